"""A custom rule with an output directory: the REAPI OutputDirectory path."""

def _numbered_files_impl(ctx):
    out = ctx.actions.declare_directory(ctx.label.name)
    ctx.actions.run_shell(
        outputs = [out],
        inputs = [ctx.file.src],
        command = """
            set -e
            mkdir -p "$1/nested/deeper"
            for i in $(seq 1 {count}); do
                sed "s/^/$i: /" "$2" > "$1/file_$i.txt"
            done
            cp "$2" "$1/nested/deeper/copy.txt"
            printf '#!/bin/sh\\necho generated\\n' > "$1/nested/tool.sh"
            chmod +x "$1/nested/tool.sh"
        """.format(count = ctx.attr.count),
        arguments = [out.path, ctx.file.src.path],
        mnemonic = "NumberedFiles",
        progress_message = "Writing %d files into %s" % (ctx.attr.count, out.short_path),
    )
    return [DefaultInfo(files = depset([out]))]

numbered_files = rule(
    implementation = _numbered_files_impl,
    attrs = {
        "src": attr.label(allow_single_file = True),
        "count": attr.int(default = 20),
    },
)
