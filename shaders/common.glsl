// Shared by every compute shader: the workgroup size comes from specialization constant 0 so that
// one binary fits devices that allow 256 invocations (the Raspberry Pi 5's V3DV) and larger ones.
#ifndef PI5_COMMON_GLSL
#define PI5_COMMON_GLSL
#extension GL_EXT_control_flow_attributes : enable

layout(local_size_x_id = 0, local_size_y = 1, local_size_z = 1) in;
#endif
