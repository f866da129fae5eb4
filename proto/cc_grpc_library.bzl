"""Turns .proto files into C++ protobuf + gRPC libraries with the system protoc."""

def cc_grpc_library(name, src, proto_deps = [], deps = [], include = "", grpc = True):
    """Generates and compiles the C++ code of one .proto file.

    Args:
      name: the cc_library's name.
      src: the .proto file, in this package.
      proto_deps: .proto files `src` imports (labels), so protoc can read them.
      deps: cc_library targets of those imports.
      include: an -I root other than the workspace root (for system protos);
        when set, `src` is a path under it and outputs keep that path.
      grpc: also generate the service stubs.
    """
    base = src[:-len(".proto")]
    outs = [base + ".pb.h", base + ".pb.cc"]
    if grpc:
        outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]

    if include:
        srcs = []
        proto_path = "-I%s %s" % (include, src)
        out_root = "$(RULEDIR)"
    else:
        srcs = [src] + proto_deps
        proto_path = "-I. $(location %s)" % src
        out_root = "$(GENDIR)"
    grpc_flags = ""
    if grpc:
        grpc_flags = "--grpc_out=%s --plugin=protoc-gen-grpc=$$(command -v grpc_cpp_plugin)" % out_root

    native.genrule(
        name = name + "_gen",
        srcs = srcs,
        outs = outs,
        cmd = "protoc --cpp_out=%s %s %s" % (out_root, grpc_flags, proto_path),
        message = "protoc " + src,
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        includes = ["."] if include else [],
        deps = deps + ["@system//:grpc", "@system//:protobuf"],
        # The descriptors register themselves at load time; reflection needs them
        # even when no code names a generated symbol.
        alwayslink = True,
        visibility = ["//visibility:public"],
    )
