using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.OnnxEngine.Tests.Onnx;

/// <summary>
/// The ONNX Runtime session keeps its KV cache and I/O in buffers it owns: decoding allocates no arrays per step (only
/// ONNX Runtime's small per-tensor handles, a constant amount) and rewinding works in place. Step-by-step equality with
/// the managed engine across the buffers' growth is OnnxParityTests' incremental-decode test (200 positions).
/// </summary>
public class OnnxSessionTests(ExportedStoriesFixture f) : IClassFixture<ExportedStoriesFixture>
{
    [Fact]
    public void Decoding_allocates_a_constant_small_amount_per_step_whatever_the_position()
    {
        using IModelSession session = f.Onnx.CreateSession();
        var logits = new float[f.Onnx.Config.VocabSize];
        for (int p = 0; p < 140; p++) session.Forward([p % 500 + 1], p, logits);   // past the first capacity doublings

        for (int p = 140; p < 250; p++) session.Forward([p % 500 + 1], p, logits);
        long early = LeastBytesPerStep(session, 140, 40, logits), late = LeastBytesPerStep(session, 180, 70, logits);
        // What remains is ONNX Runtime's API per bound tensor: an OrtValue handle and the UTF-8 copy of the tensor's
        // name that BindInput/BindOutput make (about 185 bytes). An array of the cache or of the logits would grow with
        // the position or the vocabulary.
        long perTensorHandles = (3 + 4L * f.Onnx.Config.LayerCount + 1) * 256;
        Assert.True(late <= perTensorHandles, $"{late} bytes per step at positions 180-249 (bound {perTensorHandles})");
        // An array sized by the position (a cache copy, a mask of longs) would add at least 8 bytes per position: 1440 bytes
        // and more per step at these positions. The allowance (512) is for the runtime's own stray allocations on the
        // thread, seen up to ~250 bytes per step between runs. One-sided: the earlier window reading more is not growth.
        Assert.True(late - early <= 512, $"per-step allocation grew with the position: {early} → {late} bytes");
    }

    /// <summary>
    /// Bytes allocated per decode step over positions <paramref name="from"/>… (<paramref name="count"/> steps): the least of
    /// three passes (rewound in between), so a one-time allocation elsewhere on the thread (a JIT tier-up, a timer) cannot
    /// pass for a per-step one. The session ends at <c>from + count</c>.
    /// </summary>
    internal static long LeastBytesPerStep(IModelSession session, int from, int count, float[] logits)
    {
        long least = long.MaxValue;
        for (int pass = 0; pass < 3; pass++)
        {
            session.Rewind(from);
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int p = from; p < from + count; p++) session.Forward([p % 500 + 1], p, logits);
            least = Math.Min(least, (GC.GetAllocatedBytesForCurrentThread() - before) / count);
        }
        return least;
    }

    [Fact]
    public void Rewinding_in_place_gives_what_a_fresh_session_gives()
    {
        int[] tokens = [1, 403, 407, 261, 378, 429, 259, 505, 271, 289, 340, 300];
        int vocab = f.Onnx.Config.VocabSize;
        using IModelSession session = f.Onnx.CreateSession();
        var all = new float[tokens.Length * vocab];
        session.Forward(tokens, 0, all);
        session.Rewind(5);
        var again = new float[(tokens.Length - 5) * vocab];
        session.Forward(tokens.AsSpan(5), 5, again);
        Assert.Equal(all.AsSpan(5 * vocab).ToArray(), again);

        // Past the first buffer's capacity, then back to the start.
        var logits = new float[vocab];
        for (int p = 0; p < 100; p++) session.Forward([p % 500 + 1], p, logits);
        session.Reset();
        session.Forward(tokens, 0, all);
        using IModelSession fresh = f.Onnx.CreateSession();
        var expected = new float[tokens.Length * vocab];
        fresh.Forward(tokens, 0, expected);
        Assert.Equal(expected, all);
    }
}

/// <summary>
/// A shared-buffer (fused) session keeps its KV buffers, token ids and logits bound from step to step: a decode step
/// allocates only the attention mask's handle and its binding, a small constant — less than the portable graph's
/// handles per tensor, and nothing that grows with the position.
/// </summary>
public class FusedSessionAllocationTests(FusedStoriesFixture f) : IClassFixture<FusedStoriesFixture>
{
    [Fact]
    public void Decoding_allocates_a_small_constant_amount_per_step()
    {
        using IModelSession session = f.Onnx.CreateSession();
        var logits = new float[f.Onnx.Config.VocabSize];
        void Fill(int from, int to)
        {
            for (int p = from; p < to; p++) session.Forward([p % 500 + 1], p, logits);
        }
        Fill(0, 400);   // past the first capacity (256)

        long early = OnnxSessionTests.LeastBytesPerStep(session, 260, 30, logits);
        Fill(290, 400);
        long late = OnnxSessionTests.LeastBytesPerStep(session, 330, 60, logits);
        Assert.True(late <= 512, $"{late} bytes per step at positions 330-389");
        // A position-sized array would add at least 8 × 330 bytes per step here.
        Assert.True(late - early <= 256, $"per-step allocation grew with the position: {early} → {late} bytes");
    }
}
