package dev.forkd.daemon.seccomp;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Runs a seccomp BPF program in Java against one {@code struct seccomp_data}, as the kernel would
 * (little-endian). Knows every classic BPF instruction the kernel's seccomp accepts; anything else
 * fails the test.
 */
final class BpfInterpreter {
  static final int AUDIT_ARCH_X86_64 = 0xc000003e;
  static final int AUDIT_ARCH_I386 = 0x40000003;

  static final int RET_KILL_PROCESS = 0x8000_0000;
  static final int RET_ALLOW = 0x7fff_0000;

  private BpfInterpreter() {}

  static int errno(int e) {
    return 0x0005_0000 | e;
  }

  /** The action the program returns for a call of {@code nr} with {@code args} (missing = 0). */
  static int run(byte[] program, int arch, int nr, long... args) {
    ByteBuffer data = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
    data.putInt(0, nr).putInt(4, arch).putLong(8, 0x401000L);
    for (int i = 0; i < args.length; i++) {
      data.putLong(16 + 8 * i, args[i]);
    }
    ByteBuffer p = ByteBuffer.wrap(program).order(ByteOrder.LITTLE_ENDIAN);
    int n = program.length / 8;
    int a = 0;
    int x = 0;
    int[] mem = new int[16];
    for (int pc = 0; pc < n; pc++) {
      int code = p.getShort(pc * 8) & 0xffff;
      int jt = p.get(pc * 8 + 2) & 0xff;
      int jf = p.get(pc * 8 + 3) & 0xff;
      int k = p.getInt(pc * 8 + 4);
      switch (code & 0x07) {
        case 0x00: // LD
          a = load(code, k, a, mem, data);
          break;
        case 0x01: // LDX
          x = load(code, k, x, mem, data);
          break;
        case 0x02: // ST
          mem[k] = a;
          break;
        case 0x03: // STX
          mem[k] = x;
          break;
        case 0x04: // ALU
          a = alu(code, a, (code & 0x08) != 0 ? x : k);
          break;
        case 0x05: // JMP
          {
            int src = (code & 0x08) != 0 ? x : k;
            boolean cond;
            switch (code & 0xf0) {
              case 0x00:
                pc += k;
                continue;
              case 0x10:
                cond = a == src;
                break;
              case 0x20:
                cond = Integer.compareUnsigned(a, src) > 0;
                break;
              case 0x30:
                cond = Integer.compareUnsigned(a, src) >= 0;
                break;
              case 0x40:
                cond = (a & src) != 0;
                break;
              default:
                throw new AssertionError("bad jump at " + pc + ": 0x" + Integer.toHexString(code));
            }
            pc += cond ? jt : jf;
            break;
          }
        case 0x06: // RET
          return (code & 0x18) == 0x10 ? a : k;
        default: // MISC
          if ((code & 0xf8) == 0x00) {
            x = a;
          } else if ((code & 0xf8) == 0x80) {
            a = x;
          } else {
            throw new AssertionError("bad instruction at " + pc);
          }
      }
    }
    throw new AssertionError("program ran off its end");
  }

  private static int load(int code, int k, int old, int[] mem, ByteBuffer data) {
    switch (code & 0xe0) {
      case 0x00: // IMM
        return k;
      case 0x20: // ABS
        if ((code & 0x18) != 0x00 || k < 0 || k > 60 || k % 4 != 0) {
          throw new AssertionError("bad load of seccomp_data at " + k);
        }
        return data.getInt(k);
      case 0x60: // MEM
        return mem[k];
      case 0x80: // LEN
        return 64;
      default:
        throw new AssertionError("bad load 0x" + Integer.toHexString(code) + " (old " + old + ")");
    }
  }

  private static int alu(int code, int a, int v) {
    switch (code & 0xf0) {
      case 0x00:
        return a + v;
      case 0x10:
        return a - v;
      case 0x20:
        return a * v;
      case 0x30:
        return Integer.divideUnsigned(a, v);
      case 0x40:
        return a | v;
      case 0x50:
        return a & v;
      case 0x60:
        return a << v;
      case 0x70:
        return a >>> v;
      case 0x80:
        return -a;
      case 0x90:
        return Integer.remainderUnsigned(a, v);
      case 0xa0:
        return a ^ v;
      default:
        throw new AssertionError("bad alu 0x" + Integer.toHexString(code));
    }
  }
}
