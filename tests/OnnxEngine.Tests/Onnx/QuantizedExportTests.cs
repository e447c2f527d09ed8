using MlPipelines.Exporter;
using MlPipelines.Exporter.Onnx;
using MlPipelines.ManagedEngine.Formats.Gguf;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.Tests.Support;

namespace MlPipelines.OnnxEngine.Tests.Onnx;

/// <summary>
/// int4/int8 fused exports against the managed engine running the same quantised weights. The model is written as a
/// llama.cpp-style GGUF (Q4_0 or Q8_0 layers; a Q4_0 file's classifier is Q6_K, as llama.cpp chooses for rows of 256,
/// which an int4 export quantises to Q4_0).
/// <list type="bullet">
/// <item>Exactness of the weights: with <c>accuracy_level</c> 0, MatMulNBits multiplies fp32 activations by its decoded
/// weights, so the export must agree within the fp32 bound (1e-4) with the managed engine running the file's weights
/// dequantised to fp32 (the classifier of a Q4_0 file through ggml's Q4_0 round trip, as the export quantises it). Any
/// weight carried wrongly (a nibble order, a scale) moves logits by far more.</item>
/// <item>The deployed setting, <c>accuracy_level</c> 4, quantises activations to int8 per block of 32 (ONNX Runtime's MLAS:
/// fp32 block scale) as the managed engine does for Q4_0/Q8_0 (llama.cpp's Q8_0 activations: fp16 block scale). The two
/// roundings are independent, so each engine is off the exact product by up to half an activation step per value, in
/// either direction: the bound is stated relative to the logits' spread — the largest difference at most
/// <see cref="Int8ActivationBound"/> (2 %) of the range of the exact-weights logits at that position. Measured on this
/// model: 0.99 % (Q4_0) and 0.82 % (Q8_0).</item>
/// </list>
/// </summary>
public sealed class QuantizedExportTests
{
    /// <summary>Relative bound for int8-activation arithmetic in both engines (difference / range of the position's logits).</summary>
    private const double Int8ActivationBound = 0.02;

    /// <summary>The small GQA model of the quantised-export tests (rows of whole 32-value blocks).</summary>
    internal static readonly ModelConfig Shape = new()
    {
        Dim = 256, HiddenDim = 512, LayerCount = 2, HeadCount = 4, KvHeadCount = 2, VocabSize = 512, MaxSequenceLength = 128,
        SharedClassifier = false,
    };

    public static TheoryData<string> Quantizations => new() { "Q4_0", "Q8_0" };

    [Theory]
    [MemberData(nameof(Quantizations))]
    public void With_fp32_arithmetic_the_export_computes_the_files_weights_exactly(string quantization)
    {
        using var dir = new TempDir();
        string gguf = WriteGguf(dir, quantization);
        using var dequantised = new TransformerModel(GgufCheckpoint.Load(gguf));
        string export = Export(dequantised.Weights, dir, quantization, accuracyLevel: 0);
        if (quantization == "Q4_0")
            RoundTripThroughQ4_0(dequantised.Weights.Classifier, Shape.Dim);
        using var onnx = OnnxLanguageModel.Load(export);
        Assert.Equal(quantization == "Q4_0" ? "int4" : "int8", onnx.Manifest.Weights);
        Assert.InRange(LogitComparison.MaxDiffTeacherForced(dequantised, onnx, Tokens(60), promptLength: 12), 0, 1e-4);
    }

    [Theory]
    [MemberData(nameof(Quantizations))]
    public void With_int8_activations_the_export_stays_within_the_stated_bound_of_the_managed_engine_on_the_file(string quantization)
    {
        using var dir = new TempDir();
        string gguf = WriteGguf(dir, quantization, pure: true);   // the classifier in the file's type too: the same weights throughout
        using var stored = ManagedModelLoader.LoadModel(gguf);           // the file's blocks, int8 activations
        using var exact = new TransformerModel(GgufCheckpoint.Load(gguf));  // the same weights in fp32
        string export = Export(exact.Weights, dir, quantization, accuracyLevel: 4);
        using var onnx = OnnxLanguageModel.Load(export);

        int vocab = Shape.VocabSize;
        int[] tokens = Tokens(40);
        float[] reference = LogitComparison.AllLogits(exact, tokens), ours = LogitComparison.AllLogits(stored, tokens), theirs = LogitComparison.AllLogits(onnx, tokens);
        double worstOnnx = 0, worstManaged = 0;
        for (int p = 0; p < tokens.Length; p++)
        {
            ReadOnlySpan<float> r = reference.AsSpan(p * vocab, vocab);
            double range = r.ToArray().Max() - r.ToArray().Min();
            worstOnnx = Math.Max(worstOnnx, LogitComparison.MaxAbsDiff(theirs.AsSpan(p * vocab, vocab), ours.AsSpan(p * vocab, vocab)) / range);
            worstManaged = Math.Max(worstManaged, LogitComparison.MaxAbsDiff(ours.AsSpan(p * vocab, vocab), r) / range);
        }
        Assert.InRange(worstOnnx, 0, Int8ActivationBound);
        // The managed engine's own int8-activation error is of the same order: the bound is the arithmetic, not the weights.
        Assert.InRange(worstManaged, 0, Int8ActivationBound);
    }

    /// <summary>
    /// fp16 weights: the export stores each matrix in fp16 and ONNX Runtime widens it once at load, so it computes what the
    /// managed engine computes on an F16 file of the same model (the same fp16 values, widened exactly) within fp32's bound;
    /// the file is half the size of an fp32 export's.
    /// </summary>
    [Fact]
    public void An_fp16_export_computes_what_the_managed_engine_computes_on_the_f16_file()
    {
        using var dir = new TempDir();
        string f16 = WriteGguf(dir, "F16");
        using var managed = ManagedModelLoader.LoadModel(f16);
        // From the F16 file: its embedding table is fp16 too (the export keeps the table in fp32, exactly these values).
        using (var weights = GgufCheckpoint.Load(f16))
            OnnxExporter.Export(weights, dir.File("onnx"), Options(OnnxWeightPrecision.Float16, 4));
        using var onnx = OnnxLanguageModel.Load(dir.File("onnx"));
        Assert.Equal("fp16", onnx.Manifest.Weights);
        Assert.True(new FileInfo(Path.Combine(dir.File("onnx"), "model.onnx")).Length < 0.7 * new FileInfo(dir.File("f32.gguf")).Length);
        Assert.InRange(LogitComparison.MaxDiffTeacherForced(managed, onnx, Tokens(40), promptLength: 8), 0, 1e-4);
    }

    /// <summary>
    /// Asymmetric int4 (a zero point per block, <c>MatMulNBitsQuantizer</c>, tested against ONNX Runtime's operator on its
    /// own): the export runs, and at fp32 arithmetic stays as close to the fp32 model as 4-bit weights allow — as close as
    /// the symmetric export in blocks of the same size (RMS of the logits' differences; these random weights are symmetric
    /// about zero, so a zero point buys nothing here and costs its rounding: no better than the symmetric export, and no
    /// more than a quarter worse; on skewed blocks it spends its 16 levels on each block's actual range).
    /// </summary>
    [Theory]
    [InlineData(32)]
    [InlineData(128)]
    public void An_asymmetric_int4_export_is_as_close_to_fp32_as_the_symmetric_one(int blockSize)
    {
        using var dir = new TempDir();
        GgufCheckpointWriter.WriteRandom(dir.File("f32.gguf"), Shape, seed: 37);
        using var fp32 = new TransformerModel(GgufCheckpoint.Load(dir.File("f32.gguf")));
        OnnxExporter.Export(fp32.Weights, dir.File("sym"), Options(OnnxWeightPrecision.Int4, 0) with { BlockSize = blockSize });
        OnnxExporter.Export(fp32.Weights, dir.File("asym"), Options(OnnxWeightPrecision.Int4Asymmetric, 0) with { BlockSize = blockSize });
        using var sym = OnnxLanguageModel.Load(dir.File("sym"));
        using var asym = OnnxLanguageModel.Load(dir.File("asym"));
        Assert.Equal("int4-asym", asym.Manifest.Weights);
        int[] tokens = Tokens(24);
        float[] reference = LogitComparison.AllLogits(fp32, tokens);
        double symmetric = LogitComparison.RmsDiff(LogitComparison.AllLogits(sym, tokens), reference);
        double asymmetric = LogitComparison.RmsDiff(LogitComparison.AllLogits(asym, tokens), reference);
        Assert.InRange(asymmetric, 1e-6, 1.25 * symmetric);   // quantised (not exact), and not worse than symmetric beyond noise
    }

    [Fact]
    public void An_int4_export_of_fp32_weights_holds_the_blocks_of_their_q4_0_file()
    {
        using var dir = new TempDir();
        string f32 = dir.File("f32.gguf");
        GgufCheckpointWriter.WriteRandom(f32, Shape, seed: 31);
        GgufCheckpointWriter.Write(GgufCheckpoint.Load(f32), dir.File("q4_0.gguf"), new GgufWriteOptions { Quantization = GgufQuantization.Q4_0 });
        using var fromF32 = GgufCheckpoint.Load(f32);
        using var fromQ4 = GgufCheckpoint.Load(dir.File("q4_0.gguf"));
        var a = Initializers(OnnxExporter.Export(fromF32, dir.File("a"), Options(OnnxWeightPrecision.Int4, 4)).ModelPath);
        var b = Initializers(OnnxExporter.Export(fromQ4, dir.File("b"), Options(OnnxWeightPrecision.Int4, 4)).ModelPath);
        // Every layer's packed q/k/v, o, gate, up and down blocks and scales: the same bytes (the classifier differs: the
        // file stores it as Q6_K, which the export quantises to Q4_0 from its own values).
        var layerBlocks = a.Keys.Where(k => k.StartsWith("model.layers.", StringComparison.Ordinal) && (k.EndsWith("_Q4") || k.EndsWith("_scales"))).ToList();
        Assert.Equal(2 * 5 * 2, layerBlocks.Count);
        foreach (string name in layerBlocks)
            Assert.True(a[name].SequenceEqual(b[name]), name);
        Assert.True(a.ContainsKey("lm_head.weight_Q4") && b.ContainsKey("lm_head.weight_Q4"));
    }

    /// <summary>
    /// A GGUF exported from its stored blocks (no fp32 model in memory) writes the very initializers the fp32 route writes:
    /// the same carried blocks, the classifier quantised from the same values, the same tables and norms.
    /// </summary>
    [Theory]
    [InlineData("Q4_0", OnnxWeightPrecision.Int4)]
    [InlineData("Q8_0", OnnxWeightPrecision.Int8)]
    [InlineData("Q4_K_M", OnnxWeightPrecision.Int8)]   // Q4_K requantised, Q6_K carried as 8-bit blocks of 16
    public void Exporting_the_stored_blocks_writes_what_the_fp32_route_writes(string quantization, OnnxWeightPrecision precision)
    {
        using var dir = new TempDir();
        string gguf = WriteGguf(dir, quantization);
        using (var stored = GgufCheckpoint.LoadStored(gguf))
            OnnxExporter.Export(stored, dir.File("stored"), Options(precision, 4));
        using (var fp32 = GgufCheckpoint.Load(gguf))
            OnnxExporter.Export(fp32, dir.File("fp32"), Options(precision, 4));
        var a = Initializers(Path.Combine(dir.File("stored"), "model.onnx"));
        var b = Initializers(Path.Combine(dir.File("fp32"), "model.onnx"));
        Assert.Equal(b.Keys.Order(), a.Keys.Order());
        foreach (var (name, bytes) in b)
            Assert.True(bytes.SequenceEqual(a[name]), name);
        using var onnx = OnnxLanguageModel.Load(dir.File("stored"));
        Assert.Equal(OnnxExporter.WeightsName(precision), onnx.Manifest.Weights);

        using var weights = GgufCheckpoint.LoadStored(gguf);
        var portable = Assert.Throws<ArgumentException>(() => OnnxExporter.Export(weights, dir.File("p"), new OnnxExportOptions()));
        Assert.Contains("fused", portable.Message);
    }

    /// <summary>
    /// int4 in blocks of 64, and in the default blocks of 128 (<see cref="OnnxExportOptions.BlockSize"/> null): with fp32
    /// arithmetic the export computes exactly the fp32 model whose matrices went through a symmetric round trip in blocks of
    /// that size (<see cref="BlockRoundTrip"/>, written out independently), its block scales are that many fewer, and the
    /// manifest records the size.
    /// </summary>
    [Theory]
    [InlineData(64)]
    [InlineData(null)]
    public void An_int4_export_in_larger_blocks_computes_its_round_tripped_weights(int? blockSize)
    {
        int block = blockSize ?? 128;
        Assert.Equal(block, blockSize ?? OnnxExportOptions.DefaultBlockSize(OnnxWeightPrecision.Int4));
        using var dir = new TempDir();
        // From an F16 file: its matrices are widened into memory of their own, which the round trip below may overwrite
        // (an F32 file's are views of the read-only mapping).
        using var model = new TransformerModel(GgufCheckpoint.Load(WriteGguf(dir, "F16")));
        var options = Options(OnnxWeightPrecision.Int4, 0) with { BlockSize = blockSize };
        var result = OnnxExporter.Export(model.Weights, dir.File("export"), options);
        Assert.Empty(result.RequantizedFormats);   // quantised from fp16 values, no stored blocks
        var initializers = Initializers(result.ModelPath);
        Assert.Equal(Shape.VocabSize * (Shape.Dim / block) * sizeof(float), initializers["lm_head.weight_scales"].Length);
        BlockRoundTrip.AllMatrices(model.Weights, block);
        using var onnx = OnnxLanguageModel.Load(result.OutputDirectory);
        Assert.Equal(block, onnx.Manifest.BlockSize);
        Assert.Equal($"int4 (blocks of {block})", onnx.Description.Precision);
        Assert.InRange(LogitComparison.MaxDiffTeacherForced(model, onnx, Tokens(40), promptLength: 8), 0, 1e-4);

        var error = Assert.Throws<ArgumentException>(() => OnnxExporter.Export(model.Weights, dir.File("b48"), options with { BlockSize = 48 }));
        Assert.Contains("48", error.Message);
        var unquantised = Assert.Throws<ArgumentException>(() =>
            OnnxExporter.Export(model.Weights, dir.File("f"), options with { Weights = OnnxWeightPrecision.Float32, BlockSize = 64 }));
        Assert.Contains("int4/int8", unquantised.Message);
    }

    /// <summary>
    /// The default int4 export in the deployed setting (int8 activations, <c>accuracy_level</c> 4) against the managed engine
    /// on the weights it carries (the fp32 model round-tripped in blocks of 128): within the same stated bound as the
    /// Q4_0 export — only the activations' rounding differs.
    /// </summary>
    [Fact]
    public void The_default_int4_export_with_int8_activations_stays_within_the_stated_bound_of_its_weights()
    {
        using var dir = new TempDir();
        using var model = new TransformerModel(GgufCheckpoint.Load(WriteGguf(dir, "F16")));
        string export = OnnxExporter.Export(model.Weights, dir.File("export"),
            new OnnxExportOptions { Profile = OnnxExportProfile.Fused, Weights = OnnxWeightPrecision.Int4 }).OutputDirectory;
        BlockRoundTrip.AllMatrices(model.Weights, OnnxExportOptions.DefaultBlockSize(OnnxWeightPrecision.Int4));
        using var onnx = OnnxLanguageModel.Load(export);
        int[] tokens = Tokens(40);
        float[] exact = LogitComparison.AllLogits(model, tokens), theirs = LogitComparison.AllLogits(onnx, tokens);
        double worst = 0;
        for (int p = 0; p < tokens.Length; p++)
        {
            float[] r = exact.AsSpan(p * Shape.VocabSize, Shape.VocabSize).ToArray();
            worst = Math.Max(worst, LogitComparison.MaxAbsDiff(theirs.AsSpan(p * Shape.VocabSize, Shape.VocabSize), r) / (r.Max() - r.Min()));
        }
        Assert.InRange(worst, 1e-7, Int8ActivationBound);
    }

    /// <summary>
    /// Stored blocks an export cannot carry are quantised again and reported: a Q4_0 file (Q6_K classifier) in the default
    /// int4 blocks of 128 re-quantises both; in blocks of 32 only the classifier; a pure Q4_0 file in blocks of 32 nothing.
    /// </summary>
    [Fact]
    public void Stored_blocks_quantised_again_are_reported()
    {
        using var dir = new TempDir();
        using (var stored = GgufCheckpoint.LoadStored(WriteGguf(dir, "Q4_0")))
        {
            var byDefault = OnnxExporter.Export(stored, dir.File("default"), new OnnxExportOptions { Profile = OnnxExportProfile.Fused, Weights = OnnxWeightPrecision.Int4 });
            Assert.Equal(["Q4_0", "Q6_K"], byDefault.RequantizedFormats);
            Assert.Equal(128, byDefault.Manifest.BlockSize);
            Assert.Equal(["Q6_K"], OnnxExporter.Export(stored, dir.File("ggml"), Options(OnnxWeightPrecision.Int4, 4)).RequantizedFormats);
        }
        using var pureDir = new TempDir();
        using var pure = GgufCheckpoint.LoadStored(WriteGguf(pureDir, "Q4_0", pure: true));
        var carried = OnnxExporter.Export(pure, pureDir.File("pure"), Options(OnnxWeightPrecision.Int4, 4));
        Assert.Empty(carried.RequantizedFormats);
        Assert.Equal(32, carried.Manifest.BlockSize);
    }

    [Fact]
    public void Quantised_weights_need_the_fused_profile()
    {
        using var dir = new TempDir();
        using var weights = GgufCheckpointWriterRandom(dir);
        var error = Assert.Throws<ArgumentException>(() => OnnxExporter.Export(weights, dir.File("x"), new OnnxExportOptions { Weights = OnnxWeightPrecision.Int4 }));
        Assert.Contains("fused", error.Message);
        Assert.Throws<ArgumentException>(() => OnnxExporter.Export(weights, dir.File("y"), Options(OnnxWeightPrecision.Int8, 7)));
        Assert.False(Directory.Exists(dir.File("x")));
    }

    /// <summary>Each row of <paramref name="matrix"/> replaced by its ggml Q4_0 round trip (quantise, dequantise).</summary>
    private static void RoundTripThroughQ4_0(WeightTensor matrix, int cols)
    {
        Span<float> values = matrix.MutableSpan();
        var blocks = new byte[cols / 32 * MlPipelines.ManagedEngine.Quantization.Ggml.Q4_0.Layout.Bytes];
        for (int start = 0; start < values.Length; start += cols)
        {
            MlPipelines.ManagedEngine.Quantization.Ggml.Q4_0.Quantize(values.Slice(start, cols), blocks);
            MlPipelines.ManagedEngine.Quantization.Ggml.Q4_0.Dequantize(blocks, values.Slice(start, cols));
        }
    }

    private static LlamaWeights GgufCheckpointWriterRandom(TempDir dir)
    {
        GgufCheckpointWriter.WriteRandom(dir.File("r.gguf"), Shape, seed: 3);
        return GgufCheckpoint.Load(dir.File("r.gguf"));
    }

    private static string WriteGguf(TempDir dir, string quantization, bool pure = false)
    {
        string f32 = dir.File("f32.gguf"), path = dir.File(quantization + ".gguf");
        GgufCheckpointWriter.WriteRandom(f32, Shape, seed: 29);
        using var weights = GgufCheckpoint.Load(f32);
        GgufCheckpointWriter.Write(weights, path, new GgufWriteOptions { Quantization = Enum.Parse<GgufQuantization>(quantization), Pure = pure });
        return path;
    }

    /// <summary>
    /// Fused-profile options; int4/int8 in ggml's blocks of 32 (a GGUF's Q4_0/Q8_0 carried bit for bit), which these tests
    /// compare against the managed engine on the file — not the int4 default of 128.
    /// </summary>
    private static OnnxExportOptions Options(OnnxWeightPrecision weights, int accuracyLevel) => new()
    {
        Profile = OnnxExportProfile.Fused, Weights = weights, MatMulAccuracyLevel = accuracyLevel,
        BlockSize = weights is OnnxWeightPrecision.Float32 or OnnxWeightPrecision.Float16 ? null : FusedGgmlBlock,
    };

    private const int FusedGgmlBlock = 32;

    private static string Export(LlamaWeights weights, TempDir dir, string quantization, int accuracyLevel) =>
        OnnxExporter.Export(weights, dir.File("onnx"),
            Options(quantization == "Q4_0" ? OnnxWeightPrecision.Int4 : OnnxWeightPrecision.Int8, accuracyLevel)).OutputDirectory;

    private static int[] Tokens(int count) => Enumerable.Range(0, count).Select(i => (i * 29 + 7) % Shape.VocabSize).ToArray();


    private static Dictionary<string, byte[]> Initializers(string modelPath)
    {
        using var stream = File.OpenRead(modelPath);
        return ModelProto.Parser.ParseFrom(stream).Graph.Initializer.ToDictionary(t => t.Name, t => t.RawData.ToByteArray());
    }
}
