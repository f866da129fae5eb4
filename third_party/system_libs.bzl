"""A repository of Debian's system libraries as cc_library targets.

Headers live under /usr/include, which is already on the compiler's include
path, so each target only carries the link flags that pkg-config reports for
its packages. Asking pkg-config keeps the long list of abseil libraries right.
"""

# target name -> (pkg-config packages, extra link flags)
_LIBS = {
    "absl": ([
        "absl_base",
        "absl_cleanup",
        "absl_flat_hash_map",
        "absl_flat_hash_set",
        "absl_btree",
        "absl_flags",
        "absl_flags_parse",
        "absl_flags_usage",
        "absl_hash",
        "absl_random_random",
        "absl_status",
        "absl_statusor",
        "absl_str_format",
        "absl_strings",
        "absl_synchronization",
        "absl_time",
        "absl_span",
        "absl_optional",
        "absl_any_invocable",
        "absl_function_ref",
    ], []),
    "grpc": (["grpc++", "protobuf"], ["-lgrpc++_reflection"]),
    "protobuf": (["protobuf"], []),
    "glog": (["libglog"], []),
    "gtest": (["gtest", "gmock"], []),
    "gtest_main": (["gmock_main", "gtest", "gmock"], []),
    "benchmark": (["benchmark"], ["-lpthread"]),
    "zlib": (["zlib"], []),
    # The servers' and load tools' allocator: glibc's malloc trims and
    # contends under gRPC's many threads (profiled in benchmarks/README.md).
    "jemalloc": (["jemalloc"], []),
    # The metrics endpoint's HTTP server. Its header must be compiled with the
    # library's own defines (pkg-config --cflags), or the two disagree on
    # layouts: see _pkg_config_defines.
    "httplib": (["cpp-httplib"], []),
    # Certificates: the self-signed one a server makes, fingerprints; HMAC of
    # the access control's request signatures (common/acl).
    "openssl": (["openssl"], []),
}

def _pkg_config_libs(ctx, packages):
    result = ctx.execute(["pkg-config", "--libs"] + packages)
    if result.return_code != 0:
        fail("pkg-config --libs %s failed: %s\nRun tools/bootstrap.sh to install the packages." %
             (" ".join(packages), result.stderr))
    return result.stdout.strip().split(" ")

# The -D flags pkg-config reports, as `defines` (they reach every dependent).
def _pkg_config_defines(ctx, packages):
    result = ctx.execute(["pkg-config", "--cflags"] + packages)
    if result.return_code != 0:
        fail("pkg-config --cflags %s failed: %s\nRun tools/bootstrap.sh to install the packages." %
             (" ".join(packages), result.stderr))
    return [f[2:] for f in result.stdout.strip().split(" ") if f.startswith("-D")]

def _system_libs_impl(ctx):
    lines = ['package(default_visibility = ["//visibility:public"])', ""]
    for name, (packages, extra) in _LIBS.items():
        flags = [f for f in _pkg_config_libs(ctx, packages) + extra if f]
        lines.append("cc_library(")
        lines.append('    name = "%s",' % name)
        lines.append("    linkopts = %s," % repr(flags))
        defines = _pkg_config_defines(ctx, packages)
        if defines:
            lines.append("    defines = %s," % repr(defines))
        lines.append(")")
        lines.append("")
    ctx.file("BUILD", "\n".join(lines))
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)

system_libs = repository_rule(
    implementation = _system_libs_impl,
    local = True,
    environ = ["PKG_CONFIG_PATH"],
)
