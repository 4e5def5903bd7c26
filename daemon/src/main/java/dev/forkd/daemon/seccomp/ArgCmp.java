package dev.forkd.daemon.seccomp;

/**
 * One comparison of a syscall argument, as libseccomp's {@code struct scmp_arg_cmp}. libseccomp
 * compares all 64 bits; {@link #low32(int, long)} compares only the low 32 bits, which is what the
 * kernel looks at when the argument is an {@code int} (so a caller cannot slip past an allow or
 * deny value by setting high bits that the kernel then drops).
 *
 * @param arg the argument's index, 0 to 5
 * @param datumA the value to compare with, or for {@link Op#MASKED_EQ} the mask
 * @param datumB for {@link Op#MASKED_EQ} the value the masked argument must equal, else 0
 */
public record ArgCmp(int arg, Op op, long datumA, long datumB) {
  /** The 32-bit mask of {@link #low32}. */
  public static final long LOW32 = 0xffff_ffffL;

  /** libseccomp's {@code enum scmp_compare}, with its native values. */
  public enum Op {
    NE(1),
    LT(2),
    LE(3),
    EQ(4),
    GE(5),
    GT(6),
    /** {@code (arg & datumA) == datumB}. */
    MASKED_EQ(7);

    final int nativeValue;

    Op(int nativeValue) {
      this.nativeValue = nativeValue;
    }
  }

  public ArgCmp {
    if (arg < 0 || arg > 5) {
      throw new IllegalArgumentException("argument index " + arg + " is not 0..5");
    }
    if (op == null) {
      throw new IllegalArgumentException("op is null");
    }
    if (op == Op.MASKED_EQ && (datumB & ~datumA) != 0) {
      throw new IllegalArgumentException("masked value has bits outside the mask");
    }
  }

  /** {@code (arg & mask) == value}. */
  public static ArgCmp maskedEq(int arg, long mask, long value) {
    return new ArgCmp(arg, Op.MASKED_EQ, mask, value);
  }

  /** The low 32 bits of the argument equal {@code value} (the high 32 bits are ignored). */
  public static ArgCmp low32(int arg, long value) {
    return maskedEq(arg, LOW32, value & LOW32);
  }

  /** No bit of {@code mask} is set in the argument. */
  public static ArgCmp noneOf(int arg, long mask) {
    return maskedEq(arg, mask, 0);
  }
}
