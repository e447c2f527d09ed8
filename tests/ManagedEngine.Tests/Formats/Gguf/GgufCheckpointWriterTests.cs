using System.Runtime.InteropServices;
using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Formats.Gguf;
using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Tests.Tokenization.HuggingFace;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.ManagedEngine.Tokenization.HuggingFace;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Formats.Gguf;

/// <summary>
/// GGUF files written by <see cref="GgufCheckpointWriter"/>, checked with the test's own spec-written reader (layout as
/// llama.cpp's converter writes it) and by loading them back; block encodings against the test writer's independent
/// encoders; vocabularies against the tokenizers they came from.
/// </summary>
public class GgufCheckpointWriterTests
{
    private static readonly ModelConfig Shape = new()
    {
        Dim = 64, HiddenDim = 96, LayerCount = 2, HeadCount = 4, KvHeadCount = 2, HeadDim = 24, VocabSize = 80,
        MaxSequenceLength = 64, RopeTheta = 500000f, NormEpsilon = 1e-6f, SharedClassifier = false, BosId = 3, EosId = 4,
        RopeScaling = new RopeScaling { Kind = RopeScalingKind.Linear, Factor = 2f },
    };

    [Fact]
    public void Layout_is_llama_cpp_s_and_the_file_loads_back_to_the_same_model()
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        GgufCheckpointWriter.WriteRandom(path, Shape, seed: 9);

        var file = GgufTestReader.Read(path);
        Assert.Equal(3u, file.Version);
        Assert.Equal(24u, file.Metadata["llama.attention.key_length"]);
        Assert.Equal(24u, file.Metadata["llama.rope.dimension_count"]);
        Assert.Equal(500000f, file.Metadata["llama.rope.freq_base"]);
        Assert.Equal("linear", file.Metadata["llama.rope.scaling.type"]);
        Assert.Equal([64L, 96L], file.Tensors["blk.0.attn_q.weight"].Ne);        // [in, out]: 4 heads of 24
        Assert.Equal([96L, 64L], file.Tensors["blk.1.attn_output.weight"].Ne);
        Assert.Equal([64L, 48L], file.Tensors["blk.0.attn_k.weight"].Ne);
        Assert.Equal([64L, 80L], file.Tensors["output.weight"].Ne);
        Assert.All(file.Tensors.Values, t => Assert.Equal(0ul, t.Offset % 32));

        using LlamaWeights original = RandomWeights.Create(Shape, seed: 9);
        using LlamaWeights loaded = GgufCheckpoint.Load(path);
        Assert.Equal(Shape, loaded.Config);
        Assert.Equal(original.Layers[1].Wo.Span.ToArray(), loaded.Layers[1].Wo.Span.ToArray());
        Assert.Equal(original.Classifier.Span.ToArray(), loaded.Classifier.Span.ToArray());
    }

    [Fact]
    public void Llama3_scaling_travels_as_rope_freqs_and_computes_what_the_hugging_face_form_computes()
    {
        using var dir = new TempDir();
        ModelConfig config = ModelShapes.Get("llama3-1b") with
        {
            Dim = 64, HiddenDim = 128, LayerCount = 2, HeadCount = 4, KvHeadCount = 1, VocabSize = 300, MaxSequenceLength = 128,
            BosId = 1, EosId = 2, StopIds = TokenIdList.Empty,
        };
        GgufCheckpointWriter.WriteRandom(dir.File("m.gguf"), config, seed: 2);
        HuggingFaceCheckpointWriter.WriteRandom(dir.File("hf"), config, seed: 2);

        Assert.Equal([8L], GgufTestReader.Read(dir.File("m.gguf")).Tensors["rope_freqs.weight"].Ne);   // head size 16: 8 pairs
        using TransformerModel gguf = ManagedModelLoader.LoadModel(dir.File("m.gguf"));
        using TransformerModel hf = ManagedModelLoader.LoadModel(dir.File("hf"));
        Assert.Equal(RopeScalingKind.FrequencyFactors, gguf.Config.RopeScaling.Kind);
        Assert.Equal(config.RopeScaling.FrequencyDivisors(16, config.RopeTheta).Select(d => (float)d), gguf.Config.RopeScaling.Factors!);

        int[] tokens = [1, 17, 250, 3, 99, 42, 42, 7, 280, 11];
        float[] a = Logits(gguf, tokens), b = Logits(hf, tokens);
        Assert.InRange(a.Zip(b).Max(p => Math.Abs(p.First - p.Second)), 0, 1e-4);   // the divisors rounded to fp32
    }

    [Theory]
    [InlineData(GgufQuantization.Q8_0, GgufTestWriter.Q8_0)]
    [InlineData(GgufQuantization.F16, GgufTestWriter.F16)]
    [InlineData(GgufQuantization.BF16, GgufTestWriter.BF16)]
    public void Matrices_are_encoded_as_ggml_s_reference_encoders_encode_them(GgufQuantization type, uint code)
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        ModelConfig config = Shape with { HiddenDim = 72 };   // ffn_down rows of 72: not whole Q8_0 blocks (F16, as llama.cpp falls back)
        GgufCheckpointWriter.WriteRandom(path, config, seed: 5, new GgufWriteOptions { Quantization = type });
        using LlamaWeights original = RandomWeights.Create(config, seed: 5);

        var file = GgufTestReader.Read(path);
        byte[] bytes = File.ReadAllBytes(path);
        byte[] Stored(string name, int length) => bytes.AsSpan((int)(file.DataStart + (long)file.Tensors[name].Offset), length).ToArray();
        byte[] expected = GgufTestWriter.Encode(original.Layers[1].Wq.Span, code);
        Assert.Equal(code, file.Tensors["blk.1.attn_q.weight"].Type);
        Assert.Equal(expected, Stored("blk.1.attn_q.weight", expected.Length));
        Assert.Equal(GgufTestWriter.F32, file.Tensors["blk.1.attn_norm.weight"].Type);
        Assert.Equal(type == GgufQuantization.Q8_0 ? GgufTestWriter.F16 : code, file.Tensors["blk.0.ffn_down.weight"].Type);

        using LlamaWeights loaded = GgufCheckpoint.Load(path);   // and the reader takes it
        Assert.Equal(config, loaded.Config);
    }

    [Fact]
    public void Llama3_vocabulary_and_chat_template_go_in_as_llama_cpp_s_converter_writes_them()
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        ModelConfig config = ModelShapes.Get("llama3-1b") with { Dim = 32, HiddenDim = 64, LayerCount = 1, HeadCount = 2, KvHeadCount = 1, MaxSequenceLength = 32 };
        GgufCheckpointWriter.WriteRandom(path, config, seed: 1, new GgufWriteOptions { TokenizerPath = Llama3Files.TokenizerJson, ChatTemplate = "{{ messages }}" });

        var metadata = GgufTestReader.Read(path).Metadata;
        Assert.Equal("gpt2", metadata["tokenizer.ggml.model"]);
        Assert.Equal("llama-bpe", metadata["tokenizer.ggml.pre"]);   // found by how it splits text, not by name
        Assert.Equal(128009u, metadata["tokenizer.ggml.eot_token_id"]);
        // 128008 is a stop id of Llama 3.2's shape, but in this (Llama 3.0) vocabulary it is a reserved token, not <|eom_id|>.
        Assert.False(metadata.ContainsKey("tokenizer.ggml.eom_token_id"));
        Assert.Equal("{{ messages }}", metadata["tokenizer.chat_template"]);
        Assert.Equal(3, ((int[])metadata["tokenizer.ggml.token_type"])[128009]);   // control

        var tok = Assert.IsType<HuggingFaceTokenizer>(GgufTokenizer.Load(path));
        var suite = Llama3Files.Suite;
        Assert.All(suite, c => Assert.Equal(c.Ids, tok.Encode(c.Text, false, false)));
        foreach (string text in ExtraTexts.All)
            Assert.Equal(Llama3Files.Tokenizer.Encode(text, false, false), tok.Encode(text, false, false));
        using LlamaWeights loaded = GgufCheckpoint.Load(path);
        Assert.True(loaded.Config.IsEndOfSequence(128009));
    }

    [Fact]
    public void SentencePiece_vocabulary_goes_in_as_a_llama_vocabulary()
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        ModelConfig config = new() { Dim = 32, HiddenDim = 64, LayerCount = 1, HeadCount = 2, KvHeadCount = 2, VocabSize = 512, MaxSequenceLength = 32 };
        GgufCheckpointWriter.WriteRandom(path, config, seed: 1, new GgufWriteOptions { TokenizerPath = TestPaths.Tok512Model });
        Assert.Equal("llama", GgufTestReader.Read(path).Metadata["tokenizer.ggml.model"]);
        PieceTokenizer fromGguf = GgufTokenizer.Load(path), original = TokenizerLoader.Load(TestPaths.Tok512Model);
        // (llama.cpp's SentencePiece tokenizer does not collapse runs of spaces as the .model's normaliser does: texts without them.)
        foreach (string text in new[] { "Once upon a time, there was a little girl.", "one line\nand é 🦙 bytes" })
            Assert.Equal(original.Encode(text, true, false), fromGguf.Encode(text, true, false));
    }

    [Fact]
    public void Vocabulary_of_another_size_or_kind_is_refused_by_name()
    {
        using var dir = new TempDir();
        var wrongSize = Assert.Throws<ArgumentException>(() => GgufCheckpointWriter.WriteRandom(dir.File("a.gguf"), Shape, 1,
            new GgufWriteOptions { TokenizerPath = TestPaths.Tok512Model }));
        Assert.Contains("has 512 tokens, but the model's vocabulary has 80", wrongSize.Message);
        Assert.False(File.Exists(dir.File("a.gguf")));

        var wrongKind = Assert.Throws<NotSupportedException>(() => GgufCheckpointWriter.WriteRandom(dir.File("b.gguf"), Shape, 1,
            new GgufWriteOptions { TokenizerPath = TestPaths.Tok512Bin }));
        Assert.Contains("tokenizer.json (byte-level BPE), a SentencePiece .model or another GGUF file", wrongKind.Message);
    }

    private static float[] Logits(TransformerModel model, int[] tokens)
    {
        using var session = model.CreateSession();
        var logits = new float[tokens.Length * model.Config.VocabSize];
        session.Forward(tokens, 0, logits);
        return logits;
    }
}
