using System.Numerics.Tensors;
using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Formats.Gguf;
using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.ManagedEngine.Generation;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Sampling;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Formats.Gguf;

/// <summary>
/// stories260K's weights written as GGUF (F32, F16, BF16, Q8_0, with tok512's vocabulary as metadata)
/// and read back, against the llama2.c file they came from.
/// </summary>
public class GgufRoundTripTests
{
    /// <summary>BOS and the first 99 tokens of run.c's greedy story: realistic context for the logits.</summary>
    private static int[] Tokens() =>
        [1, .. GoldenIds().Take(99)];

    private static int[] GoldenIds() =>
        File.ReadAllText(Path.Combine(TestPaths.Golden, "greedy_bos_256.ids")).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();

    private static float[] Logits(LlamaWeights weights, int[] tokens)
    {
        using var model = new TransformerModel(weights, threads: 1);
        using var session = model.CreateSession();
        var logits = new float[tokens.Length * model.Config.VocabSize];
        session.Forward(tokens, 0, logits);
        return logits;
    }

    private static string Write(TempDir dir, uint type) => Stories260KGguf.Build(type).WriteTo(dir.File($"stories260K-type{type}.gguf"));

    [Fact]
    public void F32_reads_the_same_configuration_and_weights()
    {
        using var dir = new TempDir();
        using var expected = Llama2cCheckpoint.Load(TestPaths.Stories260K);
        using var actual = GgufCheckpoint.Load(Write(dir, GgufTestWriter.F32));
        Assert.Equal(expected.Config, actual.Config);
        Assert.True(actual.Config.SharedClassifier);
        Assert.True(actual.Classifier.Span == actual.TokenEmbedding.Span); // tied: the same memory
        Assert.True(expected.TokenEmbedding.Span.SequenceEqual(actual.TokenEmbedding.Span));
        for (int i = 0; i < expected.Layers.Count; i++)
        {
            LayerWeights e = expected.Layers[i], a = actual.Layers[i];
            foreach (var (x, y) in new[] { (e.RmsAttention, a.RmsAttention), (e.Wq, a.Wq), (e.Wk, a.Wk), (e.Wv, a.Wv), (e.Wo, a.Wo),
                (e.RmsFfn, a.RmsFfn), (e.W1, a.W1), (e.W2, a.W2), (e.W3, a.W3) })
                Assert.True(x.Span.SequenceEqual(y.Span), $"layer {i}");
        }
        Assert.True(expected.RmsFinal.Span.SequenceEqual(actual.RmsFinal.Span));
    }

    [Fact]
    public void F32_logits_are_bitwise_identical_to_the_llama2c_file()
    {
        using var dir = new TempDir();
        int[] tokens = Tokens();
        float[] expected = Logits(Llama2cCheckpoint.Load(TestPaths.Stories260K), tokens);
        float[] actual = Logits(GgufCheckpoint.Load(Write(dir, GgufTestWriter.F32)), tokens);
        Assert.True(expected.AsSpan().SequenceEqual(actual));
    }

    /// <summary>
    /// Bounds on |logit − fp32 logit| over 100 positions × 512 logits (the largest |logit| is about 22),
    /// measured then given about 4× margin. A stored weight's relative rounding error is at most
    /// 2^-11 for F16 (11-bit significand) and 2^-8 for BF16 (8-bit), so BF16's error is about 8× F16's;
    /// Q8_0 rounds each weight to a step of max|block| / 127 (error up to half a step: ~0.4% of the
    /// block's largest weight), and ffn_down stays F16 because its rows (172) are not whole blocks.
    /// Measured: F16 0.0113, BF16 0.0952, Q8_0 0.267. The most likely token must not change at any
    /// position (measured: it never does), so greedy decoding of this context is identical too.
    /// </summary>
    [Theory]
    [InlineData(GgufTestWriter.F16, 0.05)]
    [InlineData(GgufTestWriter.BF16, 0.4)]
    [InlineData(GgufTestWriter.Q8_0, 1.0)]
    public void Reduced_precision_logits_stay_within_stated_bounds(uint type, double bound)
    {
        using var dir = new TempDir();
        int[] tokens = Tokens();
        float[] expected = Logits(Llama2cCheckpoint.Load(TestPaths.Stories260K), tokens);
        float[] actual = Logits(GgufCheckpoint.Load(Write(dir, type)), tokens);

        double maxError = 0;
        for (int i = 0; i < expected.Length; i++)
            maxError = Math.Max(maxError, Math.Abs(expected[i] - actual[i]));
        Assert.True(maxError > 0, "reduced precision should change something");
        Assert.True(maxError <= bound, $"type {type}: max |logit error| {maxError} exceeds {bound}");

        const int vocab = 512;
        for (int t = 0; t < tokens.Length; t++)
            Assert.Equal(TensorPrimitives.IndexOfMax(expected.AsSpan(t * vocab, vocab)), TensorPrimitives.IndexOfMax(actual.AsSpan(t * vocab, vocab)));
    }

    [Fact]
    public void Q8_0_weights_are_the_dequantised_blocks()
    {
        using var dir = new TempDir();
        using var source = Llama2cCheckpoint.Load(TestPaths.Stories260K);
        using var actual = GgufCheckpoint.Load(Write(dir, GgufTestWriter.Q8_0));
        // Independent dequantisation of what the writer stored: d (fp16) × q, block by block.
        byte[] blocks = GgufTestWriter.QuantizeQ8_0(source.Layers[2].Wq.Span);
        ReadOnlySpan<float> wq = actual.Layers[2].Wq.Span;
        for (int i = 0; i < wq.Length; i++)
        {
            float d = (float)BitConverter.UInt16BitsToHalf(BitConverter.ToUInt16(blocks, i / 32 * 34));
            Assert.Equal(d * (sbyte)blocks[i / 32 * 34 + 2 + i % 32], wq[i]);
        }
        // ffn_down (172-long rows) fell back to F16: exactly the widened halves.
        ReadOnlySpan<float> w2 = actual.Layers[0].W2.Span, original = source.Layers[0].W2.Span;
        for (int i = 0; i < w2.Length; i++)
            Assert.Equal((float)(Half)original[i], w2[i]);
    }

    [Fact]
    public void F32_file_with_its_embedded_tokenizer_prints_the_golden_greedy_story()
    {
        using var dir = new TempDir();
        string path = Write(dir, GgufTestWriter.F32);
        PieceTokenizer tokenizer = GgufTokenizer.Load(path);
        using var model = new TransformerModel(GgufCheckpoint.Load(path));
        using var session = model.CreateSession();

        var text = new List<byte>();
        var ids = new List<int>();
        var options = new GenerationOptions { MaxSteps = 256, Sampling = new SamplingOptions { Temperature = 0 } };
        foreach (GeneratedToken token in Generator.Generate(session, [model.Config.BosId], options))
        {
            ids.Add(token.Id);
            text.AddRange(tokenizer.GetPieceBytes(token.Previous, token.Id).ToArray());
        }

        Assert.Equal(GoldenIds(), ids);
        Assert.Equal(File.ReadAllBytes(Path.Combine(TestPaths.Golden, "greedy_bos_256.txt")), text.ToArray());
    }

    [Fact]
    public void Embedded_tok512_vocabulary_encodes_like_tok512_model()
    {
        using var dir = new TempDir();
        var fromGguf = GgufTokenizer.Load(Write(dir, GgufTestWriter.F32));
        var fromModel = SentencePieceModelTokenizer.Load(TestPaths.Tok512Model);
        Assert.Equal(fromModel.VocabularySize, fromGguf.VocabularySize);
        for (int id = 0; id < fromModel.VocabularySize; id++)
            Assert.True(fromModel.GetPieceBytes(1, id).SequenceEqual(fromGguf.GetPieceBytes(1, id)), $"id {id}");
        // Single spaces only: tok512.model collapses runs of spaces (remove_extra_whitespaces), which
        // GGUF has no key for and llama.cpp never does.
        foreach (string text in new[] { "Once upon a time, there was a little girl named Lily.", "She liked to play outside!", "Ünïcödé 🙂 bytes" })
            Assert.Equal(fromModel.Encode(text, true, false), fromGguf.Encode(text, true, false));
    }
}
