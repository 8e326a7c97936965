package dev.kvbm.tck.runner;

import javax.xml.stream.XMLOutputFactory;
import javax.xml.stream.XMLStreamException;
import javax.xml.stream.XMLStreamWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Writes results as a JUnit XML report: one {@code testsuite} per subject, one {@code testcase} per rule. */
final class JUnitXml {
    private JUnitXml() {
    }

    static Path write(List<Result> results, Path directory) throws IOException {
        Files.createDirectories(directory);
        Path file = directory.resolve("TEST-kvbm-tck.xml");
        Map<String, List<Result>> bySubject = new LinkedHashMap<>();
        for (Result r : results) {
            bySubject.computeIfAbsent(r.subject(), s -> new java.util.ArrayList<>()).add(r);
        }
        try (OutputStream out = Files.newOutputStream(file)) {
            XMLStreamWriter xml = XMLOutputFactory.newFactory().createXMLStreamWriter(out, "UTF-8");
            xml.writeStartDocument("UTF-8", "1.0");
            xml.writeStartElement("testsuites");
            xml.writeAttribute("name", "kvbm-tck");
            for (Map.Entry<String, List<Result>> suite : bySubject.entrySet()) {
                List<Result> cases = suite.getValue();
                xml.writeStartElement("testsuite");
                xml.writeAttribute("name", suite.getKey());
                xml.writeAttribute("tests", Integer.toString(cases.size()));
                xml.writeAttribute("failures", Long.toString(count(cases, Result.Status.FAILED)));
                xml.writeAttribute("skipped", Long.toString(count(cases, Result.Status.SKIPPED)));
                xml.writeAttribute("errors", "0");
                for (Result r : cases) {
                    xml.writeStartElement("testcase");
                    xml.writeAttribute("classname", suite.getKey());
                    xml.writeAttribute("name", r.rule());
                    xml.writeAttribute("time", String.format(Locale.ROOT, "%.3f", r.seconds()));
                    if (r.status() != Result.Status.PASSED) {
                        xml.writeStartElement(r.status() == Result.Status.FAILED ? "failure" : "skipped");
                        xml.writeAttribute("message", r.message());
                        xml.writeEndElement();
                    }
                    xml.writeEndElement();
                }
                xml.writeEndElement();
            }
            xml.writeEndElement();
            xml.writeEndDocument();
            xml.close();
        } catch (XMLStreamException e) {
            throw new IOException("could not write " + file + ": " + e.getMessage(), e);
        }
        return file;
    }

    private static long count(List<Result> results, Result.Status status) {
        return results.stream().filter(r -> r.status() == status).count();
    }
}
