using MlPipelines.ManagedEngine.Formats.Gguf;
using MlPipelines.Tests.Support;
using static MlPipelines.ManagedEngine.Tests.Formats.Gguf.GgufTestWriter;

namespace MlPipelines.ManagedEngine.Tests.Formats.Gguf;

/// <summary>Hostile and broken GGUF files: each fails with an <see cref="InvalidDataException"/> naming the file and the problem.</summary>
public class MalformedGgufTests
{
    private const ulong Huge = 1UL << 60;

    private static byte[] Valid() => TinyGguf.Valid().ToArray();

    /// <summary>Structural problems GgufFile.Open itself reports: file name, bytes, texts the message must contain.</summary>
    public static TheoryData<string, byte[], string[]> FileCases()
    {
        byte[] valid = Valid();
        return new()
        {
            { "empty.gguf", [], ["empty"] },
            { "bad-magic.gguf", Set(TinyGguf.Valid(), w => w.Magic = "GGML"u8.ToArray()), ["magic", "expected 'GGUF'", "not a GGUF file"] },
            { "version-4.gguf", Set(TinyGguf.Valid(), w => w.Version = 4), ["version is 4", "expected 2 or 3"] },
            { "header-cut.gguf", valid[..20], ["metadata_kv_count", "needs 8 bytes", "20 bytes long"] },
            { "huge-tensor-count.gguf", TinyGguf.Header(Huge, 0, new byte[64]), ["tensor_count", Huge.ToString(), "64 bytes left"] },
            { "huge-kv-count.gguf", TinyGguf.Header(0, Huge, new byte[64]), ["metadata_kv_count", Huge.ToString(), "64 bytes left"] },
            { "key-beyond-end.gguf", TinyGguf.Header(0, 1, [.. Le(1000UL), .. new byte[20]]), ["metadata key 0", "length 1000 bytes", "only 20 bytes remain"] },
            { "string-beyond-end.gguf", TinyGguf.Valid().Raw("general.name", Kind.String, [.. Le(1UL << 40), .. "abc"u8]).ToArray(),
                ["metadata 'general.name'", "length 1099511627776 bytes", "remain"] },
            { "huge-array-count.gguf", TinyGguf.Valid().Raw("tokenizer.ggml.scores", Kind.Array, [.. Le(Kind.Float32), .. Le(1UL << 40)]).ToArray(),
                ["metadata 'tokenizer.ggml.scores' array count", "1099511627776", "each takes at least 4 bytes"] },
            { "unknown-value-type.gguf", TinyGguf.Valid().Raw("general.mystery", 13, Le(0u)).ToArray(), ["metadata 'general.mystery'", "unknown value type 13"] },
            { "unknown-array-type.gguf", TinyGguf.Valid().Raw("general.list", Kind.Array, [.. Le(99u), .. Le(0UL)]).ToArray(), ["general.list", "unknown value type 99"] },
            { "arrays-too-deep.gguf", TinyGguf.Valid().Raw("general.nest", Kind.Array, [.. Le(Kind.Array), .. Le(1UL), .. Le(Kind.Array), .. Le(1UL), .. Le(Kind.UInt8), .. Le(0UL)]).ToArray(),
                ["general.nest", "nests arrays more than 2 deep"] },
            { "bool-2.gguf", TinyGguf.Valid().Raw("general.flag", Kind.Bool, [2]).ToArray(), ["metadata 'general.flag'", "bool stored as 2", "expected 0 or 1"] },
            { "duplicate-key.gguf", TinyGguf.Valid().Append("llama.block_count", Kind.UInt32, Le(1u)).ToArray(), ["'llama.block_count'", "appears twice"] },
            { "invalid-utf8-key.gguf", TinyGguf.Header(0, 1, [.. Le(2UL), 0xC3, 0x28, .. Le(Kind.UInt8), 0]), ["metadata key 0", "not valid UTF-8"] },
            { "alignment-24.gguf", TinyGguf.Valid().U32("general.alignment", 24).ToArray(), ["general.alignment", "is 24", "power of two"] },
            { "alignment-string.gguf", TinyGguf.Valid().Str("general.alignment", "32").ToArray(), ["general.alignment", "STRING", "integer"] },
            { "unknown-tensor-type.gguf", TinyGguf.Valid().EditTensor("blk.0.attn_q.weight", type: 99).ToArray(), ["tensor 'blk.0.attn_q.weight'", "unknown ggml type 99"] },
            { "offset-out-of-range.gguf", TinyGguf.Valid().EditTensor("output.weight", offset: 1 << 20).ToArray(),
                ["tensor 'output.weight'", "offset 1048576", "outside the data section"] },
            { "overlapping.gguf", TinyGguf.Valid().EditTensor("blk.0.attn_k.weight", offset: 0).ToArray(), ["'token_embd.weight'", "'blk.0.attn_k.weight'", "overlap"] },
            { "misaligned.gguf", TinyGguf.Valid().EditTensor("blk.0.attn_v.weight", offset: 4).ToArray(),
                ["tensor 'blk.0.attn_v.weight'", "offset 4", "not a multiple of the alignment 32"] },
            { "truncated-data.gguf", valid[..^10], ["tensor 'output.weight'", "truncated"] },
            { "five-dims.gguf", TinyGguf.Valid().EditTensor("blk.0.attn_norm.weight", ne: [8, 1, 1, 1, 1]).ToArray(), ["tensor 'blk.0.attn_norm.weight'", "n_dims = 5", "1 to 4"] },
            { "zero-dim.gguf", TinyGguf.Valid().EditTensor("blk.0.attn_q.weight", ne: [8, 0]).ToArray(), ["tensor 'blk.0.attn_q.weight'", "ne[1] = 0"] },
            { "dims-overflow.gguf", TinyGguf.Valid().EditTensor("blk.0.attn_q.weight", ne: [1L << 32, 1L << 32]).ToArray(),
                ["tensor 'blk.0.attn_q.weight'", "ne[1] = 4294967296", "overflow"] },
            { "q8-partial-block.gguf", TinyGguf.Valid().EditTensor("blk.0.attn_q.weight", type: Q8_0).ToArray(),
                ["tensor 'blk.0.attn_q.weight'", "Q8_0", "ne[0] = 8", "block size 32"] },
            { "duplicate-tensor.gguf", TinyGguf.Valid().EditTensor("blk.0.attn_k.weight", newName: "blk.0.attn_q.weight").ToArray(),
                ["tensor name 'blk.0.attn_q.weight'", "appears twice"] },
            { "long-tensor-name.gguf", TinyGguf.Valid().EditTensor("output.weight", newName: new string('x', 65)).ToArray(), ["tensor 11 name", "length 65", "at most 64"] },
        };
    }

    [Theory]
    [MemberData(nameof(FileCases))]
    public void Open_rejects_malformed_files_naming_file_and_field(string name, byte[] bytes, string[] expected)
    {
        using var dir = new TempDir();
        string path = dir.File(name);
        File.WriteAllBytes(path, bytes);

        var ex = Assert.Throws<InvalidDataException>(() => GgufFile.Open(path));
        Assert.Contains(path, ex.Message);
        foreach (string text in expected)
            Assert.Contains(text, ex.Message);
        // Every entry point reports the same problem.
        Assert.Equal(ex.Message, Assert.Throws<InvalidDataException>(() => GgufCheckpoint.Load(path)).Message);
        Assert.Equal(ex.Message, Assert.Throws<InvalidDataException>(() => GgufTokenizer.Load(path)).Message);
    }

    /// <summary>Well-formed GGUF files whose model does not add up.</summary>
    public static TheoryData<string, byte[], string[]> ModelCases() => new()
    {
        { "wrong-shape.gguf", TinyGguf.Valid().EditTensor("blk.0.attn_q.weight", ne: [8, 4]).ToArray(),
            ["tensor 'blk.0.attn_q.weight'", "has ne = [8, 4]", "implies ne = [8, 8]"] },
        { "transposed.gguf", TinyGguf.Valid().EditTensor("blk.0.ffn_gate.weight", ne: [16, 8]).ToArray(),
            ["tensor 'blk.0.ffn_gate.weight'", "has ne = [16, 8]", "implies ne = [8, 16]"] },
        { "wrong-vocab.gguf", TinyGguf.Valid().U32("llama.vocab_size", 11).ToArray(), ["tensor 'token_embd.weight'", "has ne = [8, 10]", "implies ne = [8, 11]"] },
        { "missing-tensor.gguf", TinyGguf.Valid().RemoveTensor("blk.0.ffn_up.weight").ToArray(), ["tensor 'blk.0.ffn_up.weight'", "is missing", "ne = [8, 16]"] },
        { "more-blocks.gguf", TinyGguf.Valid().U32("llama.block_count", 2).ToArray(), ["tensor 'blk.1.attn_norm.weight'", "is missing", "block_count = 2"] },
        { "missing-key.gguf", TinyGguf.Valid().Remove("llama.embedding_length").ToArray(), ["'llama.embedding_length'", "is missing"] },
        { "missing-architecture.gguf", TinyGguf.Valid().Remove("general.architecture").ToArray(), ["'general.architecture'", "is missing"] },
        { "string-block-count.gguf", TinyGguf.Valid().Str("llama.block_count", "one").ToArray(), ["'llama.block_count'", "has type STRING", "expected an integer"] },
        { "heads-not-dividing.gguf", TinyGguf.Valid().U32("llama.attention.head_count", 3).ToArray(), ["'llama.attention.head_count' = 3", "does not divide 'llama.embedding_length' = 8"] },
        { "kv-heads-above-heads.gguf", TinyGguf.Valid().U32("llama.attention.head_count_kv", 4).ToArray(), ["'llama.attention.head_count_kv'", "is 4", "expected 1 to 2"] },
        { "zero-epsilon.gguf", TinyGguf.Valid().F32Value("llama.attention.layer_norm_rms_epsilon", 0).ToArray(), ["'llama.attention.layer_norm_rms_epsilon'", "is 0"] },
        { "bos-outside-vocab.gguf", TinyGguf.Valid().U32("tokenizer.ggml.bos_token_id", 99).ToArray(), ["'tokenizer.ggml.bos_token_id'", "is 99", "expected 0 to 9"] },
    };

    [Theory]
    [MemberData(nameof(ModelCases))]
    public void Load_rejects_models_that_do_not_match_their_configuration(string name, byte[] bytes, string[] expected)
    {
        using var dir = new TempDir();
        string path = dir.File(name);
        File.WriteAllBytes(path, bytes);

        var ex = Assert.Throws<InvalidDataException>(() => GgufCheckpoint.Load(path));
        Assert.Contains(path, ex.Message);
        foreach (string text in expected)
            Assert.Contains(text, ex.Message);
    }

    [Theory]
    [InlineData("llama.rope.dimension_count", 2u, "metadata 'llama.rope.dimension_count' is 2, but the head size is 4 (embedding_length / head_count = 8 / 2)")]
    [InlineData("llama.attention.value_length", 6u, "metadata 'llama.attention.value_length' is 6, but the head size is 4")]
    public void Partial_rotary_and_unequal_value_heads_are_not_supported(string key, uint value, string expected)
    {
        using var dir = new TempDir();
        string path = TinyGguf.Valid().U32(key, value).WriteTo(dir.File("variant.gguf"));
        var ex = Assert.Throws<NotSupportedException>(() => GgufCheckpoint.Load(path));
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void Key_length_sizes_the_query_projection()
    {
        // key_length 6 with 2 heads: the query projection must be [dim 8, 12]; the tiny file's is [8, 8].
        using var dir = new TempDir();
        string path = TinyGguf.Valid().U32("llama.attention.key_length", 6).WriteTo(dir.File("key-length.gguf"));
        var ex = Assert.Throws<InvalidDataException>(() => GgufCheckpoint.Load(path));
        Assert.Contains("key_length 6", ex.Message);
        Assert.Contains("attn_q.weight", ex.Message);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Huge_counts_fail_fast_without_allocating(bool tensors)
    {
        using var dir = new TempDir();
        string path = dir.File("huge.gguf");
        File.WriteAllBytes(path, TinyGguf.Header(tensors ? Huge : 0, tensors ? 0 : Huge, new byte[4096]));
        Assert.Throws<InvalidDataException>(() => GgufFile.Open(path)); // warm up: JIT and type loading allocate once

        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<InvalidDataException>(() => GgufFile.Open(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 1 << 20, $"{allocated} bytes allocated");
    }

    [Fact]
    public void Huge_array_count_fails_without_allocating()
    {
        using var dir = new TempDir();
        string path = dir.File("huge-array.gguf");
        File.WriteAllBytes(path, TinyGguf.Header(0, 1, [.. StringBytes("a"), .. Le(Kind.Array), .. Le(Kind.Float64), .. Le(Huge), .. new byte[4096]]));
        Assert.Throws<InvalidDataException>(() => GgufFile.Open(path));

        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<InvalidDataException>(() => GgufFile.Open(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 1 << 20, $"{allocated} bytes allocated");
        Assert.Contains("array count", ex.Message);
    }

    [Fact]
    public void Tokenizer_arrays_must_agree()
    {
        using var dir = new TempDir();
        string Write(string name, GgufTestWriter w) => w.WriteTo(dir.File(name));
        GgufTestWriter WithTokenizer() => Stories260KGguf.AddTok512(TinyGguf.Valid());

        var ex = Assert.Throws<InvalidDataException>(() => GgufTokenizer.Load(Write("short-scores.gguf", WithTokenizer().Floats("tokenizer.ggml.scores", [0f, 1f]))));
        Assert.Contains("'tokenizer.ggml.scores' holds 2 values for 512 tokens", ex.Message);

        ex = Assert.Throws<InvalidDataException>(() => GgufTokenizer.Load(Write("bad-type.gguf",
            WithTokenizer().Ints("tokenizer.ggml.token_type", Enumerable.Repeat(1, 511).Prepend(9)))));
        Assert.Contains("piece 0 '<unk>' has unknown type 9", ex.Message);

        ex = Assert.Throws<InvalidDataException>(() => GgufTokenizer.Load(Write("no-tokens.gguf", WithTokenizer().Remove("tokenizer.ggml.tokens"))));
        Assert.Contains("'tokenizer.ggml.tokens' is missing", ex.Message);

        ex = Assert.Throws<InvalidDataException>(() => GgufTokenizer.Load(Write("no-tokenizer.gguf", TinyGguf.Valid())));
        Assert.Contains("'tokenizer.ggml.model' is missing", ex.Message);

        ex = Assert.Throws<InvalidDataException>(() => GgufTokenizer.Load(Write("float-types.gguf",
            WithTokenizer().Floats("tokenizer.ggml.token_type", new float[512]))));
        Assert.Contains("'tokenizer.ggml.token_type' has type ARRAY of FLOAT32; expected an ARRAY of INT32", ex.Message);
    }

    private static byte[] Set(GgufTestWriter writer, Action<GgufTestWriter> change)
    {
        change(writer);
        return writer.ToArray();
    }
}
