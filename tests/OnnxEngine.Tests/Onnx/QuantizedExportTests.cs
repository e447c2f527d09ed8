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

    private static readonly ModelConfig Shape = new()
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

    private static OnnxExportOptions Options(OnnxWeightPrecision weights, int accuracyLevel) =>
        new() { Profile = OnnxExportProfile.Fused, Weights = weights, MatMulAccuracyLevel = accuracyLevel };

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
