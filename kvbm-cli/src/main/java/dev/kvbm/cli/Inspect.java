package dev.kvbm.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kvbm.api.InvalidMetadataException;
import dev.kvbm.layout.LayoutDescriptorJson;
import dev.kvbm.transport.LocalLayoutDescriptor;
import dev.kvbm.transport.RdmaLayoutDescriptors;
import dev.kvbm.transport.SerializedLayout;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.concurrent.Callable;

/**
 * {@code kvbm inspect FILE|-}: decodes a worker's exported metadata ({@code SerializedLayout}: its address, its
 * agent's metadata and its layouts' descriptors, in Dynamo's wire format; a manager's exported block sets are the
 * same) and prints it as JSON. Input that does not decode prints one line naming what is wrong and at which byte
 * offset, and exits with 2.
 */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Decode exported metadata (a SerializedLayout, or a manager's exported block sets) and print it"
                + " as JSON.",
        footerHeading = "%nExit codes:%n", footer = {"  0   decoded", "  2   not valid metadata, or unreadable",
                "  64  bad usage"})
final class Inspect implements Callable<Integer> {
    /** The most bytes read: metadata is kilobytes; anything this large is not metadata. */
    static final int MAX_INPUT = 64 << 20;
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE|-", description = "the metadata's bytes; - reads standard input")
    String input;

    @Override
    public Integer call() throws IOException {
        byte[] bytes;
        try {
            bytes = read();
        } catch (IOException e) {
            spec.commandLine().getErr().println("kvbm inspect: cannot read " + input + ": " + e.getMessage());
            return 2;
        }
        RdmaLayoutDescriptors decoded;
        try {
            decoded = SerializedLayout.fromBytes(bytes).unpack();
        } catch (InvalidMetadataException e) {
            spec.commandLine().getErr().println("kvbm inspect: " + input + ": " + e.getMessage());
            return 2;
        }
        ObjectNode root = JSON.createObjectNode();
        root.put("bytes", bytes.length);
        root.put("worker_id", new BigInteger(Long.toUnsignedString(decoded.workerAddress().workerId())));
        root.put("agent_name", decoded.workerAddress().nixlAgentName());
        ObjectNode agent = root.putObject("agent_metadata");
        byte[] agentMetadata = decoded.nixlMetadata();
        agent.put("bytes", agentMetadata.length);
        agent.put("head_hex", HexFormat.of().formatHex(agentMetadata, 0, Math.min(32, agentMetadata.length)));
        ArrayNode layouts = root.putArray("layouts");
        for (LocalLayoutDescriptor d : decoded.layouts()) {
            ObjectNode l = layouts.addObject();
            ObjectNode handle = l.putObject("handle");
            handle.put("worker_id", new BigInteger(Long.toUnsignedString(d.handle().workerId())));
            handle.put("layout_id", Integer.toUnsignedLong(d.handle().layoutId()));
            l.set("descriptor", JSON.readTree(LayoutDescriptorJson.toJson(d.layout())));
        }
        spec.commandLine().getOut().println(JSON.writeValueAsString(root));
        return 0;
    }

    private byte[] read() throws IOException {
        try (InputStream in = input.equals("-") ? System.in : Files.newInputStream(Path.of(input))) {
            byte[] bytes = in.readNBytes(MAX_INPUT + 1);
            if (bytes.length > MAX_INPUT) {
                throw new IOException("more than " + MAX_INPUT + " bytes; metadata is far smaller");
            }
            return bytes;
        }
    }
}
