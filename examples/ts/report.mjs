// Creates a runtime, prints the backend and the device report, disposes it.
//   node examples/ts/report.mjs [cpu|vulkan|auto]     (after `npm run build`)
import { Runtime, Pi5Error } from 'pi5-llm-rt';

const backend = process.argv[2] ?? 'cpu';
try {
  const rt = await Runtime.create({ backend, onLog: (level, msg) => console.error(`[${level}] ${msg}`) });
  try {
    const report = rt.report();
    console.log(`backend ${rt.backend}`);
    console.log(`cpu ${report.cpu.arch}, ${report.cpu.threads} threads`);
    if (report.device) console.log(`device ${report.device.name}`);
  } finally {
    rt.dispose(); // or `using rt = ...` where the runtime supports explicit resource management
  }
} catch (e) {
  if (e instanceof Pi5Error) {
    console.error(`${e.code}: ${e.message}`);
    process.exit(1);
  }
  throw e;
}
