namespace MlPipelines.ManagedEngine.Tests.Formats.Gguf;

/// <summary>A small valid llama GGUF (F32, random weights) to break in one place at a time.</summary>
internal static class TinyGguf
{
    /// <summary>dim 8, hidden 16, 1 layer, 2 heads, 1 kv head (kv_dim 4), vocab 10, context 16, separate classifier.</summary>
    public static GgufTestWriter Valid(int dim = 8, int hidden = 16, int heads = 2, int kvHeads = 1, int vocab = 10, uint type = GgufTestWriter.F32)
    {
        var random = new Random(7);
        float[] Values(long count) => Enumerable.Range(0, (int)count).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        int kv = dim / heads * kvHeads;
        var g = new GgufTestWriter()
            .Str("general.architecture", "llama")
            .U32("llama.context_length", 16)
            .U32("llama.embedding_length", (uint)dim)
            .U32("llama.block_count", 1)
            .U32("llama.feed_forward_length", (uint)hidden)
            .U32("llama.attention.head_count", (uint)heads)
            .U32("llama.attention.head_count_kv", (uint)kvHeads)
            .F32Value("llama.attention.layer_norm_rms_epsilon", 1e-5f)
            .U32("llama.vocab_size", (uint)vocab);
        void Add(string name, params long[] ne) => g.Tensor(name, ne, ne.Length == 1 ? GgufTestWriter.F32 : type, Values(ne.Aggregate(1L, (a, b) => a * b)));
        Add("token_embd.weight", dim, vocab);
        Add("blk.0.attn_norm.weight", dim);
        Add("blk.0.attn_q.weight", dim, dim);
        Add("blk.0.attn_k.weight", dim, kv);
        Add("blk.0.attn_v.weight", dim, kv);
        Add("blk.0.attn_output.weight", dim, dim);
        Add("blk.0.ffn_norm.weight", dim);
        Add("blk.0.ffn_gate.weight", dim, hidden);
        Add("blk.0.ffn_down.weight", hidden, dim);
        Add("blk.0.ffn_up.weight", dim, hidden);
        Add("output_norm.weight", dim);
        Add("output.weight", dim, vocab);
        return g;
    }

    /// <summary>Just the fixed header: magic, version, tensor_count, metadata_kv_count, then <paramref name="rest"/>.</summary>
    public static byte[] Header(ulong tensorCount, ulong kvCount, byte[] rest, uint version = 3) =>
        [.. "GGUF"u8, .. GgufTestWriter.Le(version), .. GgufTestWriter.Le(tensorCount), .. GgufTestWriter.Le(kvCount), .. rest];
}
