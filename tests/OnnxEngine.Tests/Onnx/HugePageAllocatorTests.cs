using MlPipelines.Exporter;
using MlPipelines.ManagedEngine.Formats.Gguf;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.Tests.Support;

namespace MlPipelines.OnnxEngine.Tests.Onnx;

/// <summary>Alone: the tests switch the allocator off for a moment and count what ONNX Runtime allocates through it.</summary>
[CollectionDefinition(nameof(HugePageAllocatorTests), DisableParallelization = true)]
public sealed class HugePageAllocatorCollection;

/// <summary>
/// ONNX Runtime's CPU memory through <see cref="HugePageAllocator"/> (registered with the environment through the C API's
/// function table): sessions put their weights there — MatMulNBits' prepacked blocks at least — and compute exactly what
/// sessions on ONNX Runtime's own allocator compute.
/// </summary>
[Collection(nameof(HugePageAllocatorTests))]
public sealed class HugePageAllocatorTests
{
    private static readonly ModelConfig Shape = QuantizedExportTests.Shape;

    [Fact]
    public void An_int4_session_keeps_its_weights_there_and_computes_bit_for_bit_what_the_default_allocator_gives()
    {
        using var dir = new TempDir();
        GgufCheckpointWriter.WriteRandom(dir.File("f32.gguf"), Shape, seed: 41);
        using (var weights = GgufCheckpoint.Load(dir.File("f32.gguf")))
            OnnxExporter.Export(weights, dir.File("int4"), new OnnxExportOptions { Profile = OnnxExportProfile.Fused, Weights = OnnxWeightPrecision.Int4 });
        int[] tokens = Enumerable.Range(0, 24).Select(i => (i * 37 + 5) % Shape.VocabSize).ToArray();

        float[] expected;
        long before = HugePageAllocator.AllocatedBytes;
        try
        {
            HugePageAllocator.Enabled = false;
            using var plain = OnnxLanguageModel.Load(dir.File("int4"));
            expected = LogitComparison.AllLogits(plain, tokens);
        }
        finally
        {
            HugePageAllocator.Enabled = true;
        }
        Assert.Equal(before, HugePageAllocator.AllocatedBytes);

        using var model = OnnxLanguageModel.Load(dir.File("int4"));
        float[] actual = LogitComparison.AllLogits(model, tokens);
        Assert.Equal(expected, actual);   // exact: where memory comes from changes no arithmetic

        if (!OperatingSystem.IsLinux())
        {
            Assert.Equal(before, HugePageAllocator.AllocatedBytes);
            return;
        }
        Assert.Null(HugePageAllocator.Failure);
        // Every linear layer's 4-bit codes (half a byte per weight) were prepacked into memory from this allocator.
        long codes = (long)Shape.LayerCount * (2 * Shape.Dim * Shape.Dim + 2 * Shape.KvDim * Shape.Dim + 3 * Shape.HiddenDim * Shape.Dim) / 2
            + (long)Shape.VocabSize * Shape.Dim / 2;
        Assert.InRange(HugePageAllocator.AllocatedBytes - before, codes, long.MaxValue);
    }

    [Fact]
    public void The_environment_variable_leaves_onnx_runtimes_own_allocator_in_place()
    {
        using var options = new Microsoft.ML.OnnxRuntime.SessionOptions();
        using (new EnvironmentScope(HugePageAllocator.DisableVariable, "0"))
            Assert.False(HugePageAllocator.Apply(options));
        Assert.Equal(OperatingSystem.IsLinux(), HugePageAllocator.Apply(options));
    }
}
