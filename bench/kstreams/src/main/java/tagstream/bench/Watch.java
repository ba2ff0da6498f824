package tagstream.bench;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Watches one stream processor from outside, the same way for tagstream and
 * for Kafka Streams: waits until its consumer group has committed every
 * input record and every repartitioned record, then reads the output topic
 * (read_committed) and writes it as "tag TAB count" lines.
 *
 * <p>Usage: Watch BOOTSTRAP GROUP INPUT OUTPUT OUT_FILE TIMEOUT_MS
 *
 * <p>Prints "done EPOCH_MS", then "outputs N last_output_ms EPOCH_MS": the
 * output topic is created with LogAppendTime, so the newest record's
 * timestamp is when the broker appended the last result. Exits 1 on timeout.
 */
public final class Watch {
    private Watch() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 6) {
            System.err.println("usage: Watch BOOTSTRAP GROUP INPUT OUTPUT OUT_FILE TIMEOUT_MS");
            System.exit(2);
        }
        String group = args[1], input = args[2], output = args[3];
        long deadline = System.currentTimeMillis() + Long.parseLong(args[5]);
        Properties p = new Properties();
        p.put("bootstrap.servers", args[0]);
        try (Admin admin = Admin.create(p)) {
            List<TopicPartition> in = partitions(admin, input);
            ListOffsetsOptions committed = new ListOffsetsOptions(IsolationLevel.READ_COMMITTED);
            while (true) {
                if (System.currentTimeMillis() > deadline) {
                    System.err.println("watch: timed out waiting for group " + group);
                    System.exit(1);
                }
                Map<TopicPartition, OffsetAndMetadata> pos =
                        admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
                Map<TopicPartition, OffsetSpec> want = new HashMap<>();
                for (TopicPartition tp : in) want.put(tp, OffsetSpec.latest());
                for (TopicPartition tp : pos.keySet()) want.put(tp, OffsetSpec.latest());
                var ends = admin.listOffsets(want, committed).all().get();
                boolean done = true, repartition = false;
                for (TopicPartition tp : want.keySet()) {
                    OffsetAndMetadata o = pos.get(tp);
                    long end = ends.get(tp).offset();
                    long at = o == null ? 0 : o.offset();
                    if (tp.topic().equals(input)) {
                        done &= at >= end;
                    } else {
                        /* written in transactions: the commit marker
                         * follows the last record */
                        repartition = true;
                        done &= end - at <= 1;
                    }
                }
                if (done && repartition) break;
                Thread.sleep(100);
            }
            System.out.println("done " + System.currentTimeMillis());
            System.out.flush();
            dump(args[0], partitions(admin, output), Path.of(args[4]));
        }
    }

    static List<TopicPartition> partitions(Admin admin, String topic)
            throws InterruptedException, ExecutionException {
        TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
        List<TopicPartition> l = new ArrayList<>();
        d.partitions().forEach(i -> l.add(new TopicPartition(topic, i.partition())));
        return l;
    }

    static void dump(String bootstrap, List<TopicPartition> tps, Path out) throws IOException {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("isolation.level", "read_committed");
        p.put("enable.auto.commit", "false");
        p.put("key.deserializer", ByteArrayDeserializer.class.getName());
        p.put("value.deserializer", ByteArrayDeserializer.class.getName());
        long n = 0, last = 0;
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p);
                BufferedWriter w = Files.newBufferedWriter(out, StandardCharsets.UTF_8)) {
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps);
            while (tps.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(java.time.Duration.ofMillis(500))) {
                    String key = r.key() == null ? "(null)" : new String(r.key(), StandardCharsets.UTF_8);
                    String value = r.value() != null && r.value().length == 8
                            ? Long.toString(ByteBuffer.wrap(r.value()).getLong())
                            : "(not a long)";
                    w.write(key + "\t" + value + "\n");
                    n++;
                    last = Math.max(last, r.timestamp());
                }
            }
        }
        System.out.println("outputs " + n + " last_output_ms " + last);
    }
}
