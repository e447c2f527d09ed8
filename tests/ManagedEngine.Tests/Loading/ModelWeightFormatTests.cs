using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Tests.Formats.Gguf;
using MlPipelines.ManagedEngine.Tests.Formats.Safetensors;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Loading;

/// <summary><see cref="ModelWeightFormat"/>: the storage type of each shipped model, mixed files, and what the engine does on load.</summary>
public sealed class ModelWeightFormatTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static ModelWeightFormat Of(string path) => ModelWeightFormat.Of(ModelSource.Detect(path));

    [Fact]
    public void Shipped_models_are_described_by_their_storage_type()
    {
        var f32 = Of(TestPaths.Stories260K);
        Assert.Equal(("F32", ModelFormat.Llama2c, false), (f32.Name, f32.Container, f32.IsMixed));
        Assert.Equal(new WeightTypeShare("F32", 1_056_540 - 28, 1), Assert.Single(f32.Types)); // the file less its 7-int header

        var int8 = Of(Path.Combine(TestPaths.Models, "stories260K", "stories260K_q80.bin"));
        Assert.Equal(("Q8_0 (llama2.c int8)", ModelFormat.Llama2cInt8, "Q8_0"), (int8.Name, int8.Container, int8.SingleType));

        var hf = Of(HfModelFiles.Stories260KHf);
        Assert.Equal(("F32", ModelFormat.HuggingFace), (hf.Name, hf.Container));
        // The matrices only: the embedding and 5 layers of q, k, v, o, gate, up, down (dim 64, kv_dim 32, hidden 172).
        Assert.Equal(4L * (512 * 64 + 5 * (64 * 64 * 2 + 32 * 64 * 2 + 3 * 64 * 172)), hf.Types[0].Bytes);

        var gguf = Of(TinyRandomGgufTests.TinyRandom);   // F16 matrices, F32 norms
        Assert.Equal(("F16", ModelFormat.Gguf, "F16"), (gguf.Name, gguf.Container, gguf.SingleType));
    }

    [Fact]
    public void A_gguf_file_of_several_matrix_types_is_mixed_with_shares_by_bytes()
    {
        // Q4_K: 144 bytes per 256 weights, Q6_K: 210 — 12 blocks against 5 is 1728 : 1050 bytes. The F32 norm is not a matrix.
        string path = new GgufTestWriter()
            .RawTensor("blk.0.ffn_up.weight", [256, 12], 12, new byte[12 * 144])
            .RawTensor("output.weight", [256, 5], 14, new byte[5 * 210])
            .RawTensor("blk.0.attn_norm.weight", [256], GgufTestWriter.F32, new byte[256 * 4])
            .WriteTo(_dir.File("mixed.gguf"));

        var format = Of(path);

        Assert.Equal("mixed (Q4_K 62%, Q6_K 38%)", format.Name);
        Assert.True(format.IsMixed);
        Assert.Null(format.SingleType);
        Assert.Equal([("Q4_K", 1728L), ("Q6_K", 1050L)], format.Types.Select(t => (t.Type, t.Bytes)));
        Assert.Equal(1728.0 / 2778, format.Types[0].Fraction, 12);
    }

    [Theory]
    [InlineData(GgufTestWriter.F16, 64 * 4 * 2, "F16")]
    [InlineData(GgufTestWriter.BF16, 64 * 4 * 2, "BF16")]
    [InlineData(GgufTestWriter.Q8_0, 64 * 4 / 32 * 34, "Q8_0")]
    public void A_gguf_file_is_named_by_its_matrices_not_its_f32_norms(uint type, int matrixBytes, string name)
    {
        // The norm's 256 bytes outweigh the Q8_0 matrix; it still does not make the file "mixed".
        string path = new GgufTestWriter()
            .RawTensor("blk.0.attn_q.weight", [64, 4], type, new byte[matrixBytes])
            .RawTensor("blk.0.attn_norm.weight", [64], GgufTestWriter.F32, new byte[64 * 4])
            .WriteTo(_dir.File($"{name}.gguf"));
        var format = Of(path);
        Assert.Equal((name, false), (format.Name, format.IsMixed));
        Assert.Equal(new WeightTypeShare(name, matrixBytes, 1), Assert.Single(format.Types));

        // Without any matrix, every tensor counts.
        string normsOnly = new GgufTestWriter().RawTensor("output_norm.weight", [64], GgufTestWriter.F32, new byte[64 * 4])
            .WriteTo(_dir.File("norms.gguf"));
        Assert.Equal("F32", Of(normsOnly).Name);
    }

    [Fact]
    public void A_share_too_small_to_round_to_a_percent_is_shown_as_under_one()
    {
        var format = ModelWeightFormat.FromTensors(ModelFormat.Gguf, [("Q4_K", 995, 2), ("Q6_K", 4, 2), ("F32", 1_000_000, 1)]);
        Assert.Equal("mixed (Q4_K 100%, Q6_K <1%)", format.Name);
        Assert.Equal(999, format.Types.Sum(t => t.Bytes));
    }

    [Fact]
    public void A_bf16_safetensors_directory_is_named_by_its_dtype()
    {
        string directory = HfModelFiles.WriteModel(_dir.Path, HfModelFiles.Narrowed("BF16"));
        var model = ResolvedModel.Resolve(directory);
        Assert.Equal(("BF16", ModelFormat.HuggingFace), (model.WeightFormat.Name, model.WeightFormat.Container));
        Assert.Same(model.WeightFormat, model.WeightFormat);   // read once
    }

    [Fact]
    public void The_engine_requantises_on_load_only_what_is_not_int8_already()
    {
        var f32 = ResolvedModel.Resolve(TestPaths.Stories260K);
        var int8 = ResolvedModel.Resolve(Path.Combine(TestPaths.Models, "stories260K", "stories260K_q80.bin"));
        Assert.True(ManagedModelLoader.RequantizesOnLoad(f32, quantize: true));
        Assert.False(ManagedModelLoader.RequantizesOnLoad(f32, quantize: false));
        Assert.False(ManagedModelLoader.RequantizesOnLoad(int8, quantize: true));
    }

    [Fact]
    public void The_kv_cache_of_a_session_is_layers_times_two_times_context_times_kv_dim_floats()
    {
        Assert.Equal(12L * 2 * 1024 * 768 * 4, TransformerSession.KvCacheBytes(ModelShapes.Stories110M));
        ModelConfig stories = ResolvedModel.Resolve(TestPaths.Stories260K).Config;   // 5 layers, context 512, kv_dim 32
        Assert.Equal(5L * 2 * 512 * 32 * 4, TransformerSession.KvCacheBytes(stories));
    }
}
