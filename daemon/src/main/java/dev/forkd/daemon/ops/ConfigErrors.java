package dev.forkd.daemon.ops;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Makes protobuf's parse errors name the field. Text-format errors say where ({@code 12:17:}) and
 * what was expected, but for a value of the wrong type not which field: the offending line of the
 * file, quoted, names it. JSON errors say what was wrong ({@code Not an uint64 value: "abc"}) but
 * not where: the field is found by parsing the document one field at a time.
 */
public final class ConfigErrors {
  private static final Pattern POSITION = Pattern.compile("^(.*?: )?(\\d+):(\\d+): (.*)$");
  private static final int MAX_QUOTE = 120;

  private ConfigErrors() {}

  /** {@code message} with the field of {@code json} that fails to parse, if one can be found. */
  public static String withJsonField(String message, String json, Descriptor type) {
    Struct.Builder root = Struct.newBuilder();
    try {
      JsonFormat.parser().merge(json, root);
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      return message; // not JSON at all: the message says so
    }
    String path = failingField(root.build(), type, "");
    return path == null ? message : message + " (field " + path + ")";
  }

  /** The path of the first field of {@code o} that does not parse as {@code type}, or null. */
  private static String failingField(Struct o, Descriptor type, String prefix) {
    for (Map.Entry<String, Value> e : o.getFieldsMap().entrySet()) {
      if (parses(Struct.newBuilder().putFields(e.getKey(), e.getValue()).build(), type)) {
        continue;
      }
      FieldDescriptor f = field(type, e.getKey());
      String path = prefix + (f != null ? f.getName() : e.getKey());
      if (f != null && f.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
        Descriptor inner = f.getMessageType();
        Value v = e.getValue();
        if (f.isRepeated() && v.hasListValue()) {
          ListValue a = v.getListValue();
          for (int i = 0; i < a.getValuesCount(); i++) {
            if (a.getValues(i).hasStructValue()) {
              String deeper =
                  failingField(a.getValues(i).getStructValue(), inner, path + "[" + i + "].");
              if (deeper != null) {
                return deeper;
              }
            }
          }
        } else if (!f.isRepeated() && v.hasStructValue()) {
          String deeper = failingField(v.getStructValue(), inner, path + ".");
          if (deeper != null) {
            return deeper;
          }
        }
      }
      return path;
    }
    return null;
  }

  private static boolean parses(Struct o, Descriptor type) {
    try {
      String json = JsonFormat.printer().print(o);
      JsonFormat.parser().merge(json, DynamicMessage.newBuilder(type));
      return true;
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      return false;
    }
  }

  private static FieldDescriptor field(Descriptor type, String jsonName) {
    for (FieldDescriptor f : type.getFields()) {
      if (f.getName().equals(jsonName) || f.getJsonName().equals(jsonName)) {
        return f;
      }
    }
    return null;
  }

  /**
   * {@code message} with the line it points at: <code>f: 3:17: Expected "&#123;". (line 3:
   * shutdown_grace: "10s")</code>; unchanged if it points nowhere in {@code text}.
   */
  public static String withLine(String message, String text) {
    Matcher m = POSITION.matcher(message);
    if (!m.matches()) {
      return message;
    }
    int line = Integer.parseInt(m.group(2));
    List<String> lines = text.lines().toList();
    if (line < 1 || line > lines.size()) {
      return message;
    }
    String quoted = lines.get(line - 1).strip();
    if (quoted.length() > MAX_QUOTE) {
      quoted = quoted.substring(0, MAX_QUOTE) + "...";
    }
    return message + " (line " + line + ": " + quoted + ")";
  }
}
