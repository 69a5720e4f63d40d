/**
 * What Dawn prints to stderr (natively, past Node's streams) on every run that needs no action:
 * the Vulkan loader missing when the OpenGL path is then used, limits Dawn lowers to fit its own
 * allocator, and Mesa's complaint that no XDG_RUNTIME_DIR is set on a headless machine. The CLI
 * filters lines matching these (clara/cli/quietDawn.ts) unless run with --verbose.
 */
export const HARMLESS_DAWN_WARNINGS: readonly RegExp[] = [/Couldn't load Vulkan/, /artificially reduced/, /XDG_RUNTIME_DIR/];
