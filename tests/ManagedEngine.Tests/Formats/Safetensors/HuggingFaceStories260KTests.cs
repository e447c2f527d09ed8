using System.Runtime.InteropServices;
using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Sampling;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Formats.Safetensors;

/// <summary>
/// stories260K-hf (stories260K.bin converted to the Hugging Face layout, q/k rows permuted for
/// rotate-half RoPE) against the llama2.c file it came from: the same weights bit for bit once
/// un-permuted, hence the same logits and the same stories as run.c.
/// </summary>
public class HuggingFaceStories260KTests
{
    private static string Dir => HfModelFiles.Stories260KHf;

    [Fact]
    public void Config_json_maps_to_the_same_configuration_as_the_llama2c_header()
    {
        using var hf = HuggingFaceCheckpoint.Load(Dir);
        using var bin = Llama2cCheckpoint.Load(TestPaths.Stories260K);
        Assert.Equal(bin.Config, hf.Config);
        Assert.Equal(Dir, hf.Source);
    }

    [Fact]
    public void Every_weight_equals_the_llama2c_checkpoint_bit_for_bit()
    {
        using var hf = HuggingFaceCheckpoint.Load(Dir);
        using var bin = Llama2cCheckpoint.Load(TestPaths.Stories260K);
        AssertBits(bin.TokenEmbedding, hf.TokenEmbedding, "embedding");
        AssertBits(bin.RmsFinal, hf.RmsFinal, "rms_final");
        AssertBits(bin.Classifier, hf.Classifier, "classifier");
        for (int i = 0; i < bin.Layers.Count; i++)
        {
            LayerWeights a = bin.Layers[i], b = hf.Layers[i];
            AssertBits(a.RmsAttention, b.RmsAttention, $"layer {i} rms_att");
            AssertBits(a.Wq, b.Wq, $"layer {i} wq");
            AssertBits(a.Wk, b.Wk, $"layer {i} wk");
            AssertBits(a.Wv, b.Wv, $"layer {i} wv");
            AssertBits(a.Wo, b.Wo, $"layer {i} wo");
            AssertBits(a.RmsFfn, b.RmsFfn, $"layer {i} rms_ffn");
            AssertBits(a.W1, b.W1, $"layer {i} w1");
            AssertBits(a.W2, b.W2, $"layer {i} w2");
            AssertBits(a.W3, b.W3, $"layer {i} w3");
        }
    }

    [Fact]
    public void Stored_q_and_k_rows_are_permuted_so_reading_them_unchanged_would_be_wrong()
    {
        // Guards the test above against a converter that forgot to permute: then the permutation
        // would be an identity on this data and a reader that skipped it would still pass.
        using var bin = Llama2cCheckpoint.Load(TestPaths.Stories260K);
        HfTensor stored = HfModelFiles.ReadStories260K().Single(t => t.Name == "model.layers.0.self_attn.q_proj.weight");
        Assert.NotEqual(bin.Layers[0].Wq.Span.ToArray(), stored.Floats);
    }

    [Fact]
    public void Unpermuted_fp32_tensors_are_views_of_the_mapping_and_only_q_k_are_copied()
    {
        using var hf = HuggingFaceCheckpoint.Load(Dir, out long converted);
        // 5 layers of wq [64, 64] and wk [32, 64], four bytes per weight.
        Assert.Equal(5 * (64 * 64 + 32 * 64) * 4, converted);
        Assert.True(hf.Classifier.Span == hf.TokenEmbedding.Span); // tied: the same memory
        Assert.True(hf.Config.SharedClassifier);
    }

    [Fact]
    public void Logits_for_a_prompt_are_identical_to_the_llama2c_checkpoint()
    {
        float[] expected = HfRuns.Logits(Llama2cCheckpoint.Load(TestPaths.Stories260K), HfRuns.Prompt);
        float[] actual = HfRuns.Logits(HuggingFaceCheckpoint.Load(Dir), HfRuns.Prompt);
        Assert.Equal(26, HfRuns.Prompt.Length);
        Assert.Equal(Bits(expected), Bits(actual));
    }

    [Theory]
    [InlineData("greedy_bos_256", 0f, 0.9f, 0UL)]
    [InlineData("sample_bos_t1_p09_s133742", 1f, 0.9f, 133742UL)]
    public void Generates_run_c_golden_ids_and_text(string golden, float temperature, float topP, ulong seed)
    {
        var sampling = new SamplingOptions { Temperature = temperature, TopP = topP, Seed = seed == 0 ? null : seed };
        int[] ids = HfRuns.Generate(HuggingFaceCheckpoint.Load(Dir), sampling);
        Assert.Equal(HfRuns.GoldenIds(golden), ids);
        Assert.Equal(File.ReadAllBytes(Path.Combine(TestPaths.Golden, golden + ".txt")), HfRuns.Printed(ids));
    }

    [Fact]
    public void Is_model_directory_needs_config_and_weights()
    {
        Assert.True(HuggingFaceCheckpoint.IsModelDirectory(Dir));
        Assert.False(HuggingFaceCheckpoint.IsModelDirectory(Path.GetDirectoryName(TestPaths.Stories260K)!)); // llama2.c files
        Assert.False(HuggingFaceCheckpoint.IsModelDirectory(Path.Combine(Dir, "config.json"))); // a file
        Assert.False(HuggingFaceCheckpoint.IsModelDirectory(Path.Combine(Dir, "missing")));
        Assert.False(HuggingFaceCheckpoint.IsModelDirectory(""));
        using var tmp = new TempDir();
        File.WriteAllText(tmp.File("config.json"), HfModelFiles.Config());
        Assert.False(HuggingFaceCheckpoint.IsModelDirectory(tmp.Path));
        File.WriteAllText(tmp.File("model.safetensors.index.json"), "{}");
        Assert.True(HuggingFaceCheckpoint.IsModelDirectory(tmp.Path));
    }

    [Fact]
    public void The_tokenizer_model_in_a_model_directory_is_found_beside_it()
    {
        // stories260K-hf ships without a tokenizer; a real HF directory has tokenizer.model in it.
        Assert.Null(TokenizerLoader.FindBeside(Dir, 512));
        using var tmp = new TempDir();
        HfModelFiles.WriteModel(tmp.Path, HfModelFiles.ReadStories260K());
        File.Copy(TestPaths.Tok512Model, tmp.File("tokenizer.model"));
        using var weights = HuggingFaceCheckpoint.Load(tmp.Path);
        string? found = TokenizerLoader.FindBeside(tmp.Path, weights.Config.VocabSize);
        Assert.Equal(tmp.File("tokenizer.model"), found);
        Assert.Equal(512, TokenizerLoader.Load(found!, weights.Config.VocabSize).VocabularySize);
    }

    internal static uint[] Bits(ReadOnlySpan<float> values) => MemoryMarshal.Cast<float, uint>(values).ToArray();

    private static void AssertBits(WeightTensor expected, WeightTensor actual, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: length {actual.Length}, expected {expected.Length}");
        Assert.True(Bits(expected.Span).AsSpan().SequenceEqual(Bits(actual.Span)), $"{what} differs from stories260K.bin");
    }
}
