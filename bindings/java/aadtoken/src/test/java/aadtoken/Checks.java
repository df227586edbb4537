package aadtoken;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.function.Executable;

/** Short assertions for the tests (JUnit's, with the message first in mind). */
public final class Checks {
    private Checks() {}

    public static void check(boolean ok, String what) {
        Assertions.assertTrue(ok, what);
    }

    public static void checkEq(long actual, long expected, String what) {
        Assertions.assertEquals(expected, actual, what);
    }

    public static <T extends Throwable> T expect(Class<T> type, Executable body) {
        return Assertions.assertThrows(type, body);
    }
}
