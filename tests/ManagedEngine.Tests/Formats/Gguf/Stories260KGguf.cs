using System.Text;
using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Formats.Gguf;

/// <summary>stories260K.bin's weights and tok512's vocabulary written as a llama GGUF, as llama.cpp's converter lays it out.</summary>
internal static class Stories260KGguf
{
    /// <summary>
    /// Matrices (and the embedding) as <paramref name="matrixType"/>; 1-D norm weights stay F32, as
    /// llama.cpp keeps them. A Q8_0 matrix whose rows are not a multiple of 32 long (ffn_down, rows of
    /// hidden_dim 172) falls back to F16, as llama.cpp's quantizer does for incompatible tensors.
    /// </summary>
    public static GgufTestWriter Build(uint matrixType)
    {
        using LlamaWeights w = Llama2cCheckpoint.Load(TestPaths.Stories260K);
        ModelConfig c = w.Config;
        var g = new GgufTestWriter()
            .Str("general.architecture", "llama")
            .Str("general.name", "stories260K")
            .U32("llama.context_length", (uint)c.MaxSequenceLength)
            .U32("llama.embedding_length", (uint)c.Dim)
            .U32("llama.block_count", (uint)c.LayerCount)
            .U32("llama.feed_forward_length", (uint)c.HiddenDim)
            .U32("llama.rope.dimension_count", (uint)c.HeadDim)
            .U32("llama.attention.head_count", (uint)c.HeadCount)
            .U32("llama.attention.head_count_kv", (uint)c.KvHeadCount)
            .F32Value("llama.attention.layer_norm_rms_epsilon", c.NormEpsilon)
            .U32("general.file_type", matrixType);
        AddTok512(g);

        void Matrix(string name, WeightTensor t, long inner, long outer)
        {
            uint type = matrixType == GgufTestWriter.Q8_0 && inner % 32 != 0 ? GgufTestWriter.F16 : matrixType;
            g.Tensor(name, [inner, outer], type, t.Span);
        }
        void Vector(string name, WeightTensor t) => g.Tensor(name, [t.Length], GgufTestWriter.F32, t.Span);

        Matrix("token_embd.weight", w.TokenEmbedding, c.Dim, c.VocabSize);
        for (int i = 0; i < c.LayerCount; i++)
        {
            LayerWeights l = w.Layers[i];
            string p = $"blk.{i}.";
            Vector(p + "attn_norm.weight", l.RmsAttention);
            Matrix(p + "attn_q.weight", l.Wq, c.Dim, c.Dim);
            Matrix(p + "attn_k.weight", l.Wk, c.Dim, c.KvDim);
            Matrix(p + "attn_v.weight", l.Wv, c.Dim, c.KvDim);
            Matrix(p + "attn_output.weight", l.Wo, c.Dim, c.Dim);
            Vector(p + "ffn_norm.weight", l.RmsFfn);
            Matrix(p + "ffn_gate.weight", l.W1, c.Dim, c.HiddenDim);
            Matrix(p + "ffn_down.weight", l.W2, c.HiddenDim, c.Dim);
            Matrix(p + "ffn_up.weight", l.W3, c.Dim, c.HiddenDim);
        }
        Vector("output_norm.weight", w.RmsFinal);
        return g; // the classifier is shared: no output.weight
    }

    /// <summary>tok512.model's pieces, scores and types as tokenizer.ggml.* metadata.</summary>
    public static GgufTestWriter AddTok512(GgufTestWriter g)
    {
        var proto = SentencePieceModelProto.Parse(File.ReadAllBytes(TestPaths.Tok512Model), TestPaths.Tok512Model);
        return g.Str("tokenizer.ggml.model", "llama")
            .Strings("tokenizer.ggml.tokens", proto.Pieces.Select(p => Encoding.UTF8.GetString(p)))
            .Floats("tokenizer.ggml.scores", proto.Scores)
            .Ints("tokenizer.ggml.token_type", proto.Types.Select(t => (int)t))
            .U32("tokenizer.ggml.bos_token_id", (uint)proto.BosId)
            .U32("tokenizer.ggml.eos_token_id", (uint)proto.EosId)
            .U32("tokenizer.ggml.unknown_token_id", (uint)proto.UnkId)
            .BoolValue("tokenizer.ggml.add_space_prefix", proto.AddDummyPrefix);
    }
}
