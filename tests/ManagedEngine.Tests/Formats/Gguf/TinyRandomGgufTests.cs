using MlPipelines.ManagedEngine.Formats.Gguf;
using MlPipelines.ManagedEngine.Generation;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Sampling;
using MlPipelines.ManagedEngine.Tests.Inference;
using MlPipelines.ManagedEngine.Tests.Tokenization;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Formats.Gguf;

/// <summary>
/// models/tiny-random-gguf: a real llama.cpp-converted GGUF (version 3, F16 matrices,
/// F32 norms, random weights) with the Llama 2 vocabulary inside.
/// </summary>
public class TinyRandomGgufTests
{
    public static string TinyRandom => Path.Combine(TestPaths.Models, "tiny-random-gguf", "llama-2-tiny-random.gguf");

    private static string VocabOnly => Path.Combine(TestPaths.Golden, "llama.cpp-vocab", "ggml-vocab-llama-spm.gguf");

    private static readonly Lazy<PieceTokenizer> Tokenizer = new(() => GgufTokenizer.Load(TinyRandom));
    private static readonly Lazy<SentencePieceModelTokenizer> Llama2Model = new(() => SentencePieceModelTokenizer.Load(TestPaths.Llama2TokenizerModel));

    [Fact]
    public void Configuration_is_what_the_metadata_says()
    {
        // Decoded independently of the library's reader.
        var header = GgufTestReader.Read(TinyRandom);
        var m = header.Metadata;
        Assert.Equal((3u, 12ul), (header.Version, header.TensorCount));
        Assert.Equal("llama", m["general.architecture"]);

        using var weights = GgufCheckpoint.Load(TinyRandom);
        ModelConfig c = weights.Config;
        Assert.Equal((int)(uint)m["llama.embedding_length"], c.Dim);
        Assert.Equal((int)(uint)m["llama.feed_forward_length"], c.HiddenDim);
        Assert.Equal((int)(uint)m["llama.block_count"], c.LayerCount);
        Assert.Equal((int)(uint)m["llama.attention.head_count"], c.HeadCount);
        Assert.Equal((int)(uint)m["llama.attention.head_count_kv"], c.KvHeadCount);
        Assert.Equal((int)(uint)m["llama.context_length"], c.MaxSequenceLength);
        Assert.Equal((int)(uint)m["llama.rope.dimension_count"], c.HeadDim);
        Assert.Equal((float)m["llama.attention.layer_norm_rms_epsilon"], c.NormEpsilon);
        Assert.Equal(((string[])m["tokenizer.ggml.tokens"]).Length, c.VocabSize);
        Assert.Equal(((int)(uint)m["tokenizer.ggml.bos_token_id"], (int)(uint)m["tokenizer.ggml.eos_token_id"]), (c.BosId, c.EosId));
        Assert.False(m.ContainsKey("llama.rope.freq_base"));

        // The same values spelled out (from a one-off dump of the file with Python's struct module).
        var expected = new ModelConfig
        {
            Dim = 8, HiddenDim = 32, LayerCount = 1, HeadCount = 2, KvHeadCount = 2, VocabSize = 32000, MaxSequenceLength = 4096,
            SharedClassifier = false, RopeTheta = 10000f, NormEpsilon = 1e-5f, BosId = 1, EosId = 2,
        };
        Assert.Equal(expected, c);
    }

    [Fact]
    public void Library_metadata_matches_the_independent_dump()
    {
        var expected = GgufTestReader.Read(TinyRandom).Metadata;
        using var file = GgufFile.Open(TinyRandom);
        Assert.Equal((3u, 32, 12), (file.Version, file.Alignment, file.Tensors.Count));
        Assert.Equal(expected.Keys, file.Metadata.Keys);
        foreach (var (key, value) in expected)
            Assert.Equal(value, file.Metadata[key]);
        Assert.Equal(724416, file.DataOffset); // header ends at 724398, padded to 32
        GgufTensorInfo embedding = file.FindTensor("token_embd.weight")!;
        Assert.Equal([8L, 32000L], embedding.Dimensions);
        Assert.Equal((GgufTensorType.F16, 0L, 512000L), (embedding.Type, embedding.Offset, embedding.ByteLength));
        Assert.Equal(GgufTensorType.F32, file.FindTensor("blk.0.attn_norm.weight")!.Type);
    }

    [Fact]
    public void Weights_are_the_file_values_widened_to_fp32()
    {
        using var w = GgufCheckpoint.Load(TinyRandom);
        // Probes read from the file with Python's struct module ('<e' for F16, '<f' for F32).
        Assert.Equal(8 * 32000, w.TokenEmbedding.Length);
        Assert.Equal(0f, w.TokenEmbedding.Span[0]);
        Assert.Equal(0.007404327392578125f, w.TokenEmbedding.Span[100 * 8 + 3]);
        Assert.Equal(0.00333404541015625f, w.TokenEmbedding.Span[^1]);
        Assert.Equal(-0.004116058349609375f, w.Layers[0].Wq.Span[13]);
        Assert.Equal(-0.0204315185546875f, w.Layers[0].W1.Span[200]);
        Assert.Equal(-0.00514984130859375f, w.Layers[0].W2.Span[5]);
        Assert.Equal(-0.001300811767578125f, w.Classifier.Span[7]);
        Assert.Equal(0.00713348388671875f, w.Classifier.Span[^1]);
        Assert.True(w.Classifier.Span != w.TokenEmbedding.Span);
        Assert.All(w.RmsFinal.Span.ToArray(), x => Assert.Equal(1f, x));
    }

    [Fact]
    public void Forward_pass_matches_the_naive_double_precision_reference()
    {
        using var model = new TransformerModel(GgufCheckpoint.Load(TinyRandom), threads: 1);
        int[] tokens = [1, 306, 4658, 278, 6593, 310, 2834, 338];
        double[][] expected = new NaiveTransformer(model.Weights).Logits(tokens);
        using var session = model.CreateSession();
        int vocab = model.Config.VocabSize;
        var actual = new float[tokens.Length * vocab];
        session.Forward(tokens, 0, actual);
        for (int t = 0; t < tokens.Length; t++)
            for (int i = 0; i < vocab; i++)
                Assert.True(Math.Abs(expected[t][i] - actual[t * vocab + i]) < 1e-5 * Math.Max(1, Math.Abs(expected[t][i])),
                    $"position {t}, logit {i}: expected {expected[t][i]}, got {actual[t * vocab + i]}");
    }

    [Fact]
    public void Greedy_generation_gives_the_same_tokens_on_1_and_2_threads()
    {
        int[] prompt = Tokenizer.Value.Encode("I believe the meaning of life is", addBos: true, addEos: false);
        int[] Run(int threads)
        {
            using var model = new TransformerModel(GgufCheckpoint.Load(TinyRandom), threads);
            using var session = model.CreateSession();
            var options = new GenerationOptions { MaxSteps = 40, StopAtEos = false, Sampling = new SamplingOptions { Temperature = 0 } };
            return Generator.Generate(session, prompt, options).Select(t => t.Id).ToArray();
        }
        int[] one = Run(1);
        Assert.True(one.Length > prompt.Length, "generation should go past the prompt");
        Assert.Equal(one, Run(2));
    }

    [Fact]
    public void Tokenizer_settings_come_from_the_file()
    {
        var tok = Assert.IsType<SentencePieceModelTokenizer>(Tokenizer.Value);
        Assert.Equal((32000, 1, 2, 0), (tok.VocabularySize, tok.BosId, tok.EosId, tok.UnknownId));
        Assert.True(tok.AddDummyPrefix);
        Assert.False(tok.RemoveExtraWhitespaces);
        Assert.True(tok.EscapeWhitespaces);
        Assert.True(tok.ByteFallback);
        Assert.True(tok.AddBeginningOfSentence);
        Assert.False(tok.AddEndOfSentence);
        Assert.Equal(TinyRandom, tok.SourceName);
    }

    [Fact]
    public void Vocabulary_equals_the_llama2_tokenizer_model()
    {
        var gguf = (SentencePieceModelTokenizer)Tokenizer.Value;
        var model = Llama2Model.Value;
        for (int id = 0; id < model.VocabularySize; id++)
        {
            Assert.Equal(model.GetPiece(id), gguf.GetPiece(id));
            Assert.Equal(model.GetScore(id), gguf.GetScore(id));
            Assert.True(model.GetPieceBytes(1, id).SequenceEqual(gguf.GetPieceBytes(1, id)), $"id {id}");
        }
    }

    [Fact]
    public void Llama2_vectors_match()
    {
        foreach (var (text, ids) in TokenizerCases.Llama2Vectors())
        {
            Assert.Equal(ids, Tokenizer.Value.Encode(text, addBos: true, addEos: false));
            Assert.Equal(ids, Tokenizer.Value.EncodeToIds(text)); // the Tokenizer API adds BOS as add_bos_token says
        }
    }

    public static TheoryData<string> GgufFiles => new() { "tiny-random", "vocab-only" };

    private static PieceTokenizer Load(string which) => which == "tiny-random" ? Tokenizer.Value : GgufTokenizer.Load(VocabOnly);

    [Theory]
    [MemberData(nameof(GgufFiles))]
    public void LlamaCpp_suite_matches_and_agrees_with_tokenizer_model(string which)
    {
        PieceTokenizer tok = Load(which);
        var cases = TokenizerCases.LlamaCpp("ggml-vocab-llama-spm.gguf");
        Assert.Equal(46, cases.Count);
        foreach (var (text, ids) in cases)
        {
            int[] actual = tok.Encode(text, false, false);
            Assert.True(ids.SequenceEqual(actual), $"\"{text}\" → [{string.Join(' ', ids)}], got [{string.Join(' ', actual)}]");
            Assert.Equal(Llama2Model.Value.Encode(text, true, true), tok.Encode(text, true, true));
        }
    }

    [Theory]
    [MemberData(nameof(GgufFiles))]
    public void Decoding_round_trips(string which)
    {
        PieceTokenizer tok = Load(which);
        foreach (var (text, _) in TokenizerCases.LlamaCpp("ggml-vocab-llama-spm.gguf"))
        {
            int[] ids = tok.Encode(text, true, true);
            Assert.Equal(text, tok.Decode(ids));
            Assert.Equal(Llama2Model.Value.Decode(ids), tok.Decode(ids));
        }
        foreach (var (text, ids) in TokenizerCases.Llama2Vectors())
            Assert.Equal(text, tok.Decode(ids));
    }

    [Fact]
    public void Vocabulary_only_file_has_no_model_weights()
    {
        using var file = GgufFile.Open(VocabOnly);
        Assert.Empty(file.Tensors);
        Assert.True(GgufFile.HasMagic(VocabOnly));
        var ex = Assert.Throws<InvalidDataException>(() => GgufCheckpoint.Load(VocabOnly));
        Assert.Contains("token_embd.weight", ex.Message);
        Assert.Contains("missing", ex.Message);
    }
}
