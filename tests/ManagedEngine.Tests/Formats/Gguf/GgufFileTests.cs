using MlPipelines.ManagedEngine.Formats.Gguf;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.Tests.Support;
using static MlPipelines.ManagedEngine.Tests.Formats.Gguf.GgufTestWriter;

namespace MlPipelines.ManagedEngine.Tests.Formats.Gguf;

public class GgufFileTests
{
    [Fact]
    public void HasMagic_reads_only_the_first_four_bytes()
    {
        using var dir = new TempDir();
        Assert.True(GgufFile.HasMagic(TinyRandomGgufTests.TinyRandom));
        Assert.False(GgufFile.HasMagic(TestPaths.Stories260K));
        Assert.False(GgufFile.HasMagic(dir.File("absent.gguf")));
        Assert.False(GgufFile.HasMagic(dir.Path));
        File.WriteAllBytes(dir.File("short.gguf"), "GGU"u8.ToArray());
        Assert.False(GgufFile.HasMagic(dir.File("short.gguf")));
        File.WriteAllBytes(dir.File("magic-only.gguf"), "GGUF"u8.ToArray());
        Assert.True(GgufFile.HasMagic(dir.File("magic-only.gguf"))); // a magic, not a validation
    }

    [Fact]
    public void Metadata_values_keep_their_types()
    {
        using var dir = new TempDir();
        string path = new GgufTestWriter()
            .Raw("u8", Kind.UInt8, [200]).Raw("i8", Kind.Int8, [0xFF]).Raw("u16", Kind.UInt16, [1, 2]).Raw("i16", Kind.Int16, [0xFE, 0xFF])
            .U32("u32", 4000000000).I32("i32", -5).F32Value("f32", 1.5f).BoolValue("bool", true).Str("str", "héllo ▁")
            .U64("u64", ulong.MaxValue).Raw("i64", Kind.Int64, Le(unchecked((ulong)-7L))).Raw("f64", Kind.Float64, Le(BitConverter.DoubleToUInt64Bits(0.25)))
            .Ints("ints", [1, -2]).Floats("floats", [0.5f]).Strings("strings", ["a", "", "▁b"])
            .Raw("bools", Kind.Array, [.. Le(Kind.Bool), .. Le(2UL), 1, 0])
            .Raw("nested", Kind.Array, [.. Le(Kind.Array), .. Le(2UL), .. Le(Kind.UInt8), .. Le(1UL), 9, .. Le(Kind.String), .. Le(0UL)])
            .WriteTo(dir.File("types.gguf"));

        using var file = GgufFile.Open(path);
        var m = file.Metadata;
        Assert.Equal((byte)200, m["u8"]);
        Assert.Equal((sbyte)-1, m["i8"]);
        Assert.Equal((ushort)0x0201, m["u16"]);
        Assert.Equal((short)-2, m["i16"]);
        Assert.Equal(4000000000u, m["u32"]);
        Assert.Equal(-5, m["i32"]);
        Assert.Equal(1.5f, m["f32"]);
        Assert.Equal(true, m["bool"]);
        Assert.Equal("héllo ▁", m["str"]);
        Assert.Equal(ulong.MaxValue, m["u64"]);
        Assert.Equal(-7L, m["i64"]);
        Assert.Equal(0.25, m["f64"]);
        Assert.Equal(new[] { 1, -2 }, m["ints"]);
        Assert.Equal(new[] { 0.5f }, m["floats"]);
        Assert.Equal(new[] { "a", "", "▁b" }, m["strings"]);
        Assert.Equal(new[] { true, false }, m["bools"]);
        var nested = Assert.IsType<object[]>(m["nested"]);
        Assert.Equal(new byte[] { 9 }, nested[0]);
        Assert.Equal(System.Array.Empty<string>(), nested[1]);
        Assert.Equal(["u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "u64", "i64", "f64", "ints", "floats", "strings", "bools", "nested"], m.Keys);

        // Integer keys are accepted in any integer type; a UINT64 beyond INT64 is named.
        Assert.Equal(200, file.GetInteger("u8"));
        Assert.Equal(-1, file.GetInteger("i8"));
        Assert.Equal(4000000000, file.GetInteger("u32"));
        Assert.Contains("does not fit", Assert.Throws<InvalidDataException>(() => file.GetInteger("u64")).Message);
        Assert.Empty(file.Tensors);
    }

    [Theory]
    [InlineData(2u, 32)]
    [InlineData(3u, 64)]
    [InlineData(3u, 1)]  // floats may then sit off their natural boundary: the loader copies them
    [InlineData(3u, 8)]
    public void Versions_2_and_3_and_any_power_of_two_alignment_load_the_same_weights(uint version, int alignment)
    {
        using var dir = new TempDir();
        var writer = TinyGguf.Valid();
        writer.Version = version;
        writer.Alignment = alignment;
        if (alignment != 32) writer.U32("general.alignment", (uint)alignment);
        string path = writer.WriteTo(dir.File("aligned.gguf"));
        string reference = TinyGguf.Valid().WriteTo(dir.File("reference.gguf"));

        using (var file = GgufFile.Open(path))
        {
            Assert.Equal((version, alignment), (file.Version, file.Alignment));
            Assert.Equal(0, file.DataOffset % alignment);
        }
        using LlamaWeights expected = GgufCheckpoint.Load(reference), actual = GgufCheckpoint.Load(path);
        Assert.True(expected.TokenEmbedding.Span.SequenceEqual(actual.TokenEmbedding.Span));
        Assert.True(expected.Layers[0].W2.Span.SequenceEqual(actual.Layers[0].W2.Span));
        Assert.True(expected.Classifier.Span.SequenceEqual(actual.Classifier.Span));
        Assert.False(actual.Config.SharedClassifier);
    }

    [Fact]
    public void BF16_and_F16_tensors_are_widened_exactly()
    {
        using var dir = new TempDir();
        using LlamaWeights f32 = GgufCheckpoint.Load(TinyGguf.Valid().WriteTo(dir.File("f32.gguf")));
        using LlamaWeights f16 = GgufCheckpoint.Load(TinyGguf.Valid(type: F16).WriteTo(dir.File("f16.gguf")));
        using LlamaWeights bf16 = GgufCheckpoint.Load(TinyGguf.Valid(type: BF16).WriteTo(dir.File("bf16.gguf")));
        ReadOnlySpan<float> source = f32.Layers[0].W3.Span;
        for (int i = 0; i < source.Length; i++)
        {
            Assert.Equal((float)(Half)source[i], f16.Layers[0].W3.Span[i]);
            Assert.Equal(BitConverter.UInt32BitsToSingle(RoundToBf16(source[i]) << 16), bf16.Layers[0].W3.Span[i]);
        }
    }

    private static uint RoundToBf16(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        return (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16;
    }

    [Fact]
    public void Weights_outlive_nothing_but_themselves()
    {
        using var dir = new TempDir();
        string path = TinyGguf.Valid().WriteTo(dir.File("tiny.gguf"));
        float[] logits;
        using (var model = new TransformerModel(GgufCheckpoint.Load(path), threads: 1))
        using (var session = model.CreateSession())
        {
            logits = new float[model.Config.VocabSize];
            session.Forward([1, 2, 3], 0, logits);
        }
        Assert.All(logits, x => Assert.True(float.IsFinite(x)));
        File.Delete(path); // the mapping is released with the model
    }

    [Fact]
    public void Linear_rope_scaling_and_end_of_turn_ids_reach_the_configuration()
    {
        using var dir = new TempDir();
        string path = TinyGguf.Valid().Str("llama.rope.scaling.type", "linear").F32Value("llama.rope.scaling.factor", 4f)
            .U32("tokenizer.ggml.eot_token_id", 3).U32("tokenizer.ggml.eom_token_id", 4).WriteTo(dir.File("chat.gguf"));
        using var weights = GgufCheckpoint.Load(path);
        Assert.Equal(new MlPipelines.ManagedEngine.Model.RopeScaling { Kind = MlPipelines.ManagedEngine.Model.RopeScalingKind.Linear, Factor = 4f },
            weights.Config.RopeScaling);
        Assert.Equal([3, 4], weights.Config.StopIds);
    }

    /// <summary>llama.cpp stores Llama 3.1's RoPE scaling as rope_freqs.weight: one divisor per frequency.</summary>
    [Fact]
    public void Rope_frequency_factors_are_read_checked_and_computed_as_the_naive_pass_does()
    {
        using var dir = new TempDir();
        string path = TinyGguf.Valid(dim: 16, hidden: 32, heads: 2, kvHeads: 1).Tensor("rope_freqs.weight", [4], F32, [1f, 1.5f, 4f, 8f])
            .WriteTo(dir.File("freqs.gguf"));
        using (var weights = GgufCheckpoint.Load(path))
        {
            Assert.Equal(MlPipelines.ManagedEngine.Model.RopeScaling.FromFactors([1f, 1.5f, 4f, 8f]), weights.Config.RopeScaling);
            int[] tokens = [1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3];
            double[][] expected = new MlPipelines.ManagedEngine.Tests.Inference.NaiveTransformer(weights).Logits(tokens);
            using var model = new MlPipelines.ManagedEngine.Inference.TransformerModel(weights);
            using var session = model.CreateSession();
            var actual = new float[tokens.Length * weights.Config.VocabSize];
            session.Forward(tokens, 0, actual);
            for (int i = 0; i < actual.Length; i++)
                Assert.True(Math.Abs(expected[i / weights.Config.VocabSize][i % weights.Config.VocabSize] - actual[i]) < 1e-4, $"logit {i}");
        }

        var wrongCount = Assert.Throws<InvalidDataException>(() => GgufCheckpoint.Load(
            TinyGguf.Valid(dim: 16, hidden: 32, heads: 2, kvHeads: 1).Tensor("rope_freqs.weight", [3], F32, [1f, 1f, 1f]).WriteTo(dir.File("three.gguf"))));
        Assert.Contains("tensor 'rope_freqs.weight' (RoPE frequency factors [head_dim / 2]) has ne = [3]", wrongCount.Message);
        var zero = Assert.Throws<InvalidDataException>(() => GgufCheckpoint.Load(
            TinyGguf.Valid(dim: 16, hidden: 32, heads: 2, kvHeads: 1).Tensor("rope_freqs.weight", [4], F32, [1f, 0f, 1f, 1f]).WriteTo(dir.File("zero.gguf"))));
        Assert.Contains("frequency factors must be positive", zero.Message);
    }

    [Fact]
    public void Unsupported_but_well_formed_files_raise_NotSupportedException()
    {
        using var dir = new TempDir();
        string Write(string name, GgufTestWriter w) => w.WriteTo(dir.File(name));

        var ex = Assert.Throws<NotSupportedException>(() => GgufFile.Open(Write("v1.gguf", Set(TinyGguf.Valid(), w => w.Version = 1))));
        Assert.Contains("version 1", ex.Message);
        ex = Assert.Throws<NotSupportedException>(() => GgufFile.Open(Write("big-endian.gguf", Set(TinyGguf.Valid(), w => w.Version = 0x03000000))));
        Assert.Contains("big-endian", ex.Message);

        ex = Assert.Throws<NotSupportedException>(() => GgufCheckpoint.Load(Write("gpt2.gguf", TinyGguf.Valid().Str("general.architecture", "gpt2"))));
        Assert.Contains("general.architecture is 'gpt2'", ex.Message);
        ex = Assert.Throws<NotSupportedException>(() => GgufCheckpoint.Load(Write("scaled.gguf", TinyGguf.Valid().Str("llama.rope.scaling.type", "yarn"))));
        Assert.Contains("llama.rope.scaling.type is 'yarn'", ex.Message);
        var noFactor = Assert.Throws<InvalidDataException>(() => GgufCheckpoint.Load(Write("linear.gguf", TinyGguf.Valid().Str("llama.rope.scaling.type", "linear"))));
        Assert.Contains("'llama.rope.scaling.factor' is missing", noFactor.Message);
        ex = Assert.Throws<NotSupportedException>(() => GgufCheckpoint.Load(Write("extra.gguf",
            TinyGguf.Valid().Tensor("blk.0.attn_q.bias", [8], F32, new float[8]))));
        Assert.Contains("tensor 'blk.0.attn_q.bias'", ex.Message);

        ex = Assert.Throws<NotSupportedException>(() => GgufTokenizer.Load(Write("bpe.gguf",
            Stories260KGguf.AddTok512(TinyGguf.Valid()).Str("tokenizer.ggml.model", "gpt2"))));
        Assert.Contains("tokenizer.ggml.model is 'gpt2'", ex.Message);
    }

    [Fact]
    public void Quantisations_without_kernels_are_read_but_not_loaded()
    {
        using var dir = new TempDir();
        // dim 256 so that rows are whole k-quant super-blocks (Q2_K: 256 values in 84 bytes; Q4_K: 144).
        const uint Q2_K = 10, Q4_K = 12;
        GgufTestWriter Embedding(uint type, int bytes) => TinyGguf.Valid(dim: 256, hidden: 256, heads: 2, kvHeads: 1, vocab: 4)
            .RemoveTensor("token_embd.weight")
            .RawTensor("token_embd.weight", [256, 4], type, new byte[4 * bytes]);
        string path = Embedding(Q2_K, 84).WriteTo(dir.File("q2k.gguf"));
        using (var file = GgufFile.Open(path))
        {
            GgufTensorInfo t = file.FindTensor("token_embd.weight")!;
            Assert.Equal((GgufTensorType.Q2_K, 1024L, 336L), (t.Type, t.ElementCount, t.ByteLength));
        }
        var ex = Assert.Throws<NotSupportedException>(() => GgufCheckpoint.Load(path));
        Assert.Contains("tensor 'token_embd.weight' is stored as Q2_K; supported are F32, F16, BF16, Q8_0, Q4_0", ex.Message);

        // Q4_K has kernels: the all-zero blocks load as zeros, in both forms.
        string q4k = Embedding(Q4_K, 144).WriteTo(dir.File("q4k.gguf"));
        using (LlamaWeights weights = GgufCheckpoint.Load(q4k))
            Assert.All(weights.TokenEmbedding.Span.ToArray(), v => Assert.Equal(0f, v));
        using (var stored = GgufCheckpoint.LoadStored(q4k))
            Assert.StartsWith("mixed (F32 ", stored.FormatSummary);
    }

    private static GgufTestWriter Set(GgufTestWriter writer, Action<GgufTestWriter> change)
    {
        change(writer);
        return writer;
    }
}
