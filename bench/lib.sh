# Sourced by the bench/run_*.sh scripts (from the repository root).
# bench_build TARGET...: configure the build directory $BUILD_DIR (default:
# the release preset's) and build the targets; sets $build.
bench_build() {
    if [ -n "${BUILD_DIR:-}" ]; then
        build=$BUILD_DIR
        cmake "$build" >/dev/null
    else
        build=build/release
        cmake --preset release >/dev/null
    fi
    cmake --build "$build" --target "$@"
}
