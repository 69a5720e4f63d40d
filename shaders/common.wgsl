// Shared by the element-wise kernels: 256 invocations per workgroup, one element each.
//
// A grid dimension holds at most 65535 workgroups (16.7 M elements), so larger jobs use a 2-D
// grid of workgroups; the host picks x and y (see engine/backends/webgpu/context.ts, grid1D).
const WG: u32 = 256u;

fn work_index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid.x;
}
