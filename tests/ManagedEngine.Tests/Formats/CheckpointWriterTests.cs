using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Formats;

public class CheckpointWriterTests
{
    // Grouped-query attention (4 heads, 2 kv heads) and a separate classifier: the layout's hard cases.
    private static readonly ModelConfig Small = new()
    {
        Dim = 16, HiddenDim = 24, LayerCount = 3, HeadCount = 4, KvHeadCount = 2,
        VocabSize = 37, MaxSequenceLength = 10, SharedClassifier = false,
    };

    [Fact]
    public void WriteRandom_RoundTripsConfigAndHasTheImpliedSize()
    {
        using var dir = new TempDir();
        string path = dir.File("small.bin");
        Llama2cCheckpointWriter.WriteRandom(path, Small, seed: 1);

        using var w = Llama2cCheckpoint.Load(path);
        Assert.Equal(Small, w.Config);
        Assert.Equal(28 + 4 * CheckpointBytes.FloatCount(16, 24, 3, 4, 2, -37, 10), new FileInfo(path).Length);
        Assert.Equal(8 * 16, w.Layers[0].Wk.Length);
    }

    [Fact]
    public void WriteRandom_WeightsAreBoundedRandomAndNormsAreOne()
    {
        using var dir = new TempDir();
        string path = dir.File("small.bin");
        Llama2cCheckpointWriter.WriteRandom(path, Small, seed: 1);
        using var w = Llama2cCheckpoint.Load(path);

        Assert.All(w.RmsFinal.Span.ToArray(), x => Assert.Equal(1f, x));
        foreach (var layer in w.Layers)
        {
            Assert.All(layer.RmsAttention.Span.ToArray(), x => Assert.Equal(1f, x));
            Assert.All(layer.RmsFfn.Span.ToArray(), x => Assert.Equal(1f, x));
            AssertUniform(layer.Wq, 1 / MathF.Sqrt(16));
            AssertUniform(layer.Wk, 1 / MathF.Sqrt(16));
            AssertUniform(layer.W2, 1 / MathF.Sqrt(24));
        }
        AssertUniform(w.TokenEmbedding, 1 / MathF.Sqrt(16));
        AssertUniform(w.Classifier, 1 / MathF.Sqrt(16));
        Assert.False(w.Classifier.Span.SequenceEqual(w.TokenEmbedding.Span));
    }

    [Fact]
    public void WriteRandom_SameSeedIsByteIdenticalAndAnotherSeedDiffers()
    {
        using var dir = new TempDir();
        Llama2cCheckpointWriter.WriteRandom(dir.File("a.bin"), Small, seed: 42);
        Llama2cCheckpointWriter.WriteRandom(dir.File("b.bin"), Small, seed: 42);
        Llama2cCheckpointWriter.WriteRandom(dir.File("c.bin"), Small, seed: 43);

        byte[] a = File.ReadAllBytes(dir.File("a.bin")), b = File.ReadAllBytes(dir.File("b.bin")), c = File.ReadAllBytes(dir.File("c.bin"));
        Assert.Equal(a, b);
        Assert.Equal(a.Length, c.Length);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Write_OfLoadedWeightsReproducesTheFileByteForByte()
    {
        using var dir = new TempDir();
        Llama2cCheckpointWriter.WriteRandom(dir.File("a.bin"), Small, seed: 7);
        using (var w = Llama2cCheckpoint.Load(dir.File("a.bin")))
            Llama2cCheckpointWriter.Write(dir.File("b.bin"), w);

        Assert.Equal(File.ReadAllBytes(dir.File("a.bin")), File.ReadAllBytes(dir.File("b.bin")));
    }

    [Fact]
    public void Write_OfStories260KMatchesTheOriginalExceptRopeRounding()
    {
        using var dir = new TempDir();
        string copy = dir.File("copy.bin");
        using (var w = Llama2cCheckpoint.Load(TestPaths.Stories260K))
            Llama2cCheckpointWriter.Write(copy, w);

        byte[] original = File.ReadAllBytes(TestPaths.Stories260K), written = File.ReadAllBytes(copy);
        Assert.Equal(original.Length, written.Length);
        // Everything up to the end of rms_final is the weights themselves and must be identical.
        int ropeStart = 28 + 4 * 260032;
        Assert.True(original.AsSpan(0, ropeStart).SequenceEqual(written.AsSpan(0, ropeStart)));
        // The legacy RoPE tables are recomputed; export.py works in fp32, so allow rounding differences.
        for (int i = ropeStart; i < original.Length; i += 4)
            Assert.Equal(BitConverter.ToSingle(original, i), BitConverter.ToSingle(written, i), 1e-5f);
    }

    [Fact]
    public void Write_RefusesToOverwriteUnlessAsked()
    {
        using var dir = new TempDir();
        string path = dir.File("model.bin");
        File.WriteAllText(path, "keep me");

        var ex = Assert.Throws<IOException>(() => Llama2cCheckpointWriter.WriteRandom(path, Small, seed: 1));
        Assert.Contains("model.bin", ex.Message);
        Assert.Contains("overwrite", ex.Message);
        Assert.Equal("keep me", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(dir.Path));

        Llama2cCheckpointWriter.WriteRandom(path, Small, seed: 1, overwrite: true);
        using var w = Llama2cCheckpoint.Load(path);
        Assert.Equal(Small, w.Config);
    }

    [Fact]
    public void WriteRandom_LeavesNoFileBehindWhenItFailsMidWrite()
    {
        using var dir = new TempDir();
        using var cts = new CancellationTokenSource();
        cts.Cancel(); // observed inside the streaming loop, after the temporary file exists

        Assert.ThrowsAny<OperationCanceledException>(() =>
            Llama2cCheckpointWriter.WriteRandom(dir.File("model.bin"), Small, seed: 1, cancellationToken: cts.Token));
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void WriteRandom_RejectsInvalidConfigWithoutCreatingAFile()
    {
        using var dir = new TempDir();
        var bad = Small with { KvHeadCount = 3 };
        var ex = Assert.Throws<ArgumentException>(() => Llama2cCheckpointWriter.WriteRandom(dir.File("m.bin"), bad, seed: 1));
        Assert.Contains("n_kv_heads = 3", ex.Message);
        Assert.Equal("config", ex.ParamName);

        Assert.Throws<ArgumentException>(() => Llama2cCheckpointWriter.WriteRandom(dir.File("m.bin"), Small with { VocabSize = 0 }, seed: 1));
        Assert.Throws<ArgumentException>(() => Llama2cCheckpointWriter.WriteRandom(dir.File("m.bin"), Small with { RopeTheta = 500000f }, seed: 1));
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void Write_RefusesASharedFlagWhenTheClassifierDiffers()
    {
        using var dir = new TempDir();
        Llama2cCheckpointWriter.WriteRandom(dir.File("a.bin"), Small, seed: 3);
        using var w = Llama2cCheckpoint.Load(dir.File("a.bin"));
        using var lying = new LlamaWeights(w.Config with { SharedClassifier = true }, w.TokenEmbedding, w.Layers,
            w.RmsFinal, w.Classifier, owner: null, "lying");

        var ex = Assert.Throws<ArgumentException>(() => Llama2cCheckpointWriter.Write(dir.File("b.bin"), lying));
        Assert.Contains("SharedClassifier", ex.Message);
        Assert.False(File.Exists(dir.File("b.bin")));
    }

    [Fact]
    public void Load_MapsInsteadOfReadingTheFileIntoManagedMemory()
    {
        using var dir = new TempDir();
        string path = dir.File("multi-mb.bin");
        var config = new ModelConfig
        {
            Dim = 128, HiddenDim = 384, LayerCount = 4, HeadCount = 8, KvHeadCount = 4,
            VocabSize = 4096, MaxSequenceLength = 256, SharedClassifier = false,
        };
        Llama2cCheckpointWriter.WriteRandom(path, config, seed: 5);
        long fileBytes = new FileInfo(path).Length;
        Assert.True(fileBytes > 4_000_000, $"file is only {fileBytes} bytes");

        using (Llama2cCheckpoint.Load(path)) { } // warm up type loading and JIT
        long before = GC.GetAllocatedBytesForCurrentThread();
        using var w = Llama2cCheckpoint.Load(path);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(allocated < 64 * 1024, $"Load allocated {allocated} bytes for a {fileBytes}-byte file");
        Assert.Equal(CheckpointBytes.ReadFloat(path, 4096L * 128 - 1), w.TokenEmbedding.Span[^1]);
    }

    [Fact]
    public void WriteRandom_15mShapeHasTheSizeOfStories15M()
    {
        using var dir = new TempDir();
        string path = dir.File("15m.bin");
        Llama2cCheckpointWriter.WriteRandom(path, ModelShapes.Get("15m"), seed: 0);
        Assert.Equal(60_816_028, new FileInfo(path).Length); // size of Karpathy's stories15M.bin

        using var w = Llama2cCheckpoint.Load(path);
        Assert.Equal(ModelShapes.Stories15M, w.Config);
        Assert.All(w.Layers[^1].W3.Span.ToArray()[..1000], x => Assert.True(float.IsFinite(x) && MathF.Abs(x) <= 1 / MathF.Sqrt(288)));
    }

    private static void AssertUniform(WeightTensor t, float bound)
    {
        var values = t.Span.ToArray();
        Assert.All(values, x => Assert.InRange(x, -bound, bound));
        // Spread over the whole range, not collapsed near zero or stuck at a constant.
        Assert.True(values.Max() > 0.5f * bound && values.Min() < -0.5f * bound);
        double meanSquare = values.Average(x => (double)x * x);
        Assert.InRange(meanSquare, 0.2 * bound * bound, 0.5 * bound * bound); // uniform: bound²/3
    }
}
