using MlPipelines.ManagedEngine.Kernels;
using MlPipelines.Tests.Support;
using Xunit.Abstractions;

namespace MlPipelines.ManagedEngine.Tests.Kernels;

/// <summary>
/// A micro-measure, not a test: one head's attention over 512 cached positions (head width 64, four key/value heads
/// per cache row) from an fp32 and from an fp16 cache, for a decode step and a 16-token chunk, single-threaded.
/// Runs only with MLPIPE_PERF=1 and prints its numbers.
/// </summary>
public unsafe class AttentionF16Throughput(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    public void Measure(int tokens)
    {
        if (Environment.GetEnvironmentVariable("MLPIPE_PERF") != "1")
            return;
        const int headDim = 64, kvDim = 4 * headDim, positions = 512;
        int start = positions - tokens;
        var rng = new Random(1);
        float[] q = NaiveKernels.RandomVector(rng, tokens * headDim, 2f);
        float[] keys = NaiveKernels.RandomVector(rng, positions * kvDim, 2f), values = NaiveKernels.RandomVector(rng, positions * kvDim);
        ushort[] keys16 = new ushort[keys.Length], values16 = new ushort[values.Length];
        KvConvert.ToF16(keys, keys16);
        KvConvert.ToF16(values, values16);
        float[] o = new float[tokens * headDim], scores = new float[tokens * positions];
        fixed (float* qp = q, k = keys, v = values, op = o, s = scores)
        fixed (ushort* k16 = keys16, v16 = values16)
        {
            float* pq = qp, pk = k, pv = v, po = op, ps = s;
            ushort* pk16 = k16, pv16 = v16;
            // Two rounds, the first discarded: the first measurements of a test process are disturbed by its start-up.
            for (int round = 0; round < 2; round++)
                foreach (KernelPath path in new[] { KernelPaths.Default, KernelPath.Portable128 })
                {
                    double fp32 = MicroTimer.BestMicroseconds(() =>
                        Attention.Chunk(pq, headDim, tokens, start, pk, pv, kvDim, headDim, headDim, po, headDim, ps, path));
                    double fp16 = MicroTimer.BestMicroseconds(() =>
                        AttentionF16.Chunk(pq, headDim, tokens, start, pk16, pv16, kvDim, headDim, headDim, po, headDim, ps, path));
                    if (round == 1)
                        output.WriteLine($"{path,-12} {tokens,2} token(s) over {positions}: fp32 {fp32,8:F2} µs   fp16 {fp16,8:F2} µs   ({fp16 / fp32:F2}×)");
                }
        }
    }
}
