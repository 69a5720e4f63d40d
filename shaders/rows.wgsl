// Shared by the row-wise fused kernels (softmax, rmsnorm, cross_entropy): one invocation per row,
// RW rows per workgroup, workgroups over x and y (engine/backends/webgpu/kernels/fused.ts).
const RW: u32 = 64u;

fn row_index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
  return (wid.y * nwg.x + wid.x) * RW + lid.x;
}
