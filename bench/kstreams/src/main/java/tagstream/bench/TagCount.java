package tagstream.bench;

import java.time.Duration;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;

/**
 * tagstream's default topology in Kafka Streams: lower-case (Locale.ROOT),
 * trim, keep tags longer than one UTF-16 unit, re-key by the tag
 * (repartition), count in 20 s tumbling windows with no grace, emit each
 * window's final count once it closes (suppress), keep counts above four.
 * The result is key = tag, value = the count as an 8-byte big-endian long:
 * what tagstream writes with output.format=long.
 *
 * <p>Usage: TagCount BOOTSTRAP APPLICATION_ID INPUT OUTPUT STATE_DIR [THREADS]
 *
 * <p>Prints "ready EPOCH_MS" the first time the instance is RUNNING, and
 * runs until SIGTERM.
 */
public final class TagCount {
    private TagCount() {}

    static Topology topology(String input, String output) {
        StreamsBuilder b = new StreamsBuilder();
        b.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
                .filter((k, v) -> v != null)
                .mapValues(v -> v.toLowerCase(Locale.ROOT).trim())
                .filter((k, v) -> v.length() > 1)
                .groupBy((k, v) -> v, Grouped.with("tags", Serdes.String(), Serdes.String()))
                .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(20000), Duration.ZERO))
                .count(Materialized.as("counts"))
                .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
                .toStream()
                .filter((k, v) -> v > 4)
                .map((k, v) -> KeyValue.pair(k.key(), v))
                .to(output, Produced.with(Serdes.String(), Serdes.Long()));
        return b.build();
    }

    public static void main(String[] args) throws InterruptedException {
        if (args.length < 5) {
            System.err.println("usage: TagCount BOOTSTRAP APPLICATION_ID INPUT OUTPUT STATE_DIR [THREADS]");
            System.exit(2);
        }
        Properties p = new Properties();
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, args[1]);
        p.put(StreamsConfig.STATE_DIR_CONFIG, args[4]);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, args.length > 5 ? args[5] : "1");
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "100");
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, "1");
        p.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");

        KafkaStreams streams = new KafkaStreams(topology(args[2], args[3]), p);
        CountDownLatch stopped = new CountDownLatch(1);
        boolean[] announced = {false};
        streams.setStateListener((now, before) -> {
            if (now == KafkaStreams.State.RUNNING && !announced[0]) {
                announced[0] = true;
                System.out.println("ready " + System.currentTimeMillis());
                System.out.flush();
            }
            if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING)
                stopped.countDown();
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            streams.close(Duration.ofSeconds(15));
            stopped.countDown();
        }));
        streams.start();
        stopped.await();
    }
}
