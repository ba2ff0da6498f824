/*
 * The oracle of the normalization conformance test: generates random values
 * and prints what Java makes of them, for check_normalize to compare with
 * tagstream's C implementation.
 *
 * Usage: java JavaNormalize.java SEED COUNT [hashtag|any]
 *   hashtag: only what a hashtag can hold (letters of many scripts, digits,
 *            underscore, combining marks, ZWJ/ZWNJ), padded with spaces and
 *            controls that trim() removes;
 *   any:     adds punctuation, symbols, emoji and the characters that steer
 *            the JDK's word segmentation (the default).
 * Output, one line per value: hex(UTF-8 input) TAB hex(UTF-8 of
 * value.toLowerCase(Locale.ROOT).trim()) TAB value.length() TAB result.length()
 */
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Random;

public class JavaNormalize {
    // Pools of code points by the role they play in case mapping and in the
    // word segmentation that decides Greek final sigma.
    static final int[][] POOLS = {
        {'A', 'B', 'Z', 'a', 'q', 'z', 0xC0, 0xDF, 0xE9, 0x130, 0x131, 0x178, 0x1C5, 0x1E9E},
        {0x391, 0x392, 0x3A3, 0x3A3, 0x3A3, 0x3A3, 0x3B1, 0x3C2, 0x3C3, 0x386, 0x38F},
        {0x410, 0x41C, 0x42F, 0x430, 0x44F, 0x531, 0x561, 0x10A0, 0x13A0, 0x1C90},
        {'0', '5', '9', 0x661, 0xB2, 0x2160, 0x216B, 0x24B6, 0x24D0},
        {'_', '-', '.', '\'', '"', ':', ',', ';', '#', '$', '%', '&', '@', '/', '^', 0xA2,
         0xAD, 0x2010, 0x2027, 0x66A, 0x66B, 0x2030},
        {0x300, 0x308, 0x345, 0x903, 0x200C, 0x200D, 0x2B0, 0x37A, 0x1D2C},
        {' ', '\t', '\n', '\r', 0x0, 0x1, 0x1F, 0xA0, 0x3000, 0x2028, 0x0C},
        {0x4E00, 0x6771, 0x3005, 0x3042, 0x30A2, 0x30FC, 0x964, 0x965, 0x5D0, 0x627, 0xE01},
        {0x1F389, 0x1F600, 0x10400, 0x10428, 0x1D400, 0x1E900, 0x1E922, 0x10C80},
    };

    // The pools of POOLS that hashtag text is made of (letters, digits, marks),
    // plus the white space and controls around it.
    static final int[] HASHTAG_POOLS = {0, 1, 2, 3, 5, 6, 8};
    static final int[] HASHTAG_SUPP = {0x10400, 0x10428, 0x1E900, 0x1E922, 0x10C80};

    static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (byte x : b)
            sb.append(String.format("%02x", x & 0xff));
        return sb.length() == 0 ? "-" : sb.toString();
    }

    public static void main(String[] args) {
        Random rnd = new Random(Long.parseLong(args[0]));
        int count = Integer.parseInt(args[1]);
        boolean hashtag = args.length > 2 && args[2].equals("hashtag");
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < count; i++) {
            int len = rnd.nextInt(9);
            StringBuilder s = new StringBuilder();
            for (int k = 0; k < len; k++) {
                int[] pool;
                if (!hashtag) {
                    pool = POOLS[rnd.nextInt(POOLS.length)];
                } else {
                    int which = HASHTAG_POOLS[rnd.nextInt(HASHTAG_POOLS.length)];
                    pool = which == 8 ? HASHTAG_SUPP : POOLS[which];
                    // white space and controls only at the ends, where a
                    // stream value may carry them
                    if (which == 6 && k != 0 && k != len - 1)
                        pool = POOLS[0];
                }
                s.appendCodePoint(pool[rnd.nextInt(pool.length)]);
            }
            String in = s.toString();
            String res = in.toLowerCase(Locale.ROOT).trim();
            out.append(hex(in.getBytes(StandardCharsets.UTF_8))).append('\t')
               .append(hex(res.getBytes(StandardCharsets.UTF_8))).append('\t')
               .append(in.length()).append('\t').append(res.length()).append('\n');
        }
        System.out.print(out);
    }
}
