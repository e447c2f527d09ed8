using System.Text.Json.Nodes;
using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Formats.Safetensors;

/// <summary>Well-formed variations of a model directory that must load and compute the same model.</summary>
public class HuggingFaceCheckpointVariantTests
{
    private static float[] ReferenceLogits() => HfRuns.Logits(HuggingFaceCheckpoint.Load(HfModelFiles.Stories260KHf), HfRuns.Prompt);

    [Fact]
    public void Two_shards_with_an_index_give_identical_logits()
    {
        using var tmp = new TempDir();
        HfModelFiles.WriteSharded(tmp.Path, HfModelFiles.ReadStories260K(), firstShardCount: 20);
        Assert.True(HuggingFaceCheckpoint.IsModelDirectory(tmp.Path));
        Assert.False(File.Exists(tmp.File("model.safetensors")));
        using (var weights = HuggingFaceCheckpoint.Load(tmp.Path, out long converted))
        {
            using var single = HuggingFaceCheckpoint.Load(HfModelFiles.Stories260KHf);
            Assert.Equal(single.Config, weights.Config);
            Assert.Equal(5 * (64 * 64 + 32 * 64) * 4, converted);
        }
        Assert.Equal(HuggingFaceStories260KTests.Bits(ReferenceLogits()), HuggingFaceStories260KTests.Bits(HfRuns.Logits(HuggingFaceCheckpoint.Load(tmp.Path), HfRuns.Prompt)));
    }

    [Theory]
    [InlineData("F32", 2)] // floats off a 4-byte boundary: copied instead of viewed
    [InlineData("BF16", 1)] // 16-bit values at odd addresses: widened through an aligned copy
    public void Misaligned_data_section_loads_the_same_weights(string dtype, int extraSpaces)
    {
        using var tmp = new TempDir();
        var tensors = dtype == "F32" ? HfModelFiles.ReadStories260K() : HfModelFiles.Narrowed(dtype);
        HfModelFiles.WriteModel(tmp.Path, tensors, extraHeaderSpaces: extraSpaces);
        using var aligned = new TempDir();
        HfModelFiles.WriteModel(aligned.Path, tensors);
        using (HuggingFaceCheckpoint.Load(tmp.Path, out long converted))
            Assert.Equal(1040128, converted); // every tensor went through a buffer: the fp32 data section's size
        Assert.Equal(HuggingFaceStories260KTests.Bits(HfRuns.Logits(HuggingFaceCheckpoint.Load(aligned.Path), HfRuns.Prompt)),
            HuggingFaceStories260KTests.Bits(HfRuns.Logits(HuggingFaceCheckpoint.Load(tmp.Path), HfRuns.Prompt)));
    }

    [Fact]
    public void Untied_lm_head_is_a_separate_classifier()
    {
        using var tmp = new TempDir();
        HfTensor embedding = HfModelFiles.ReadStories260K().Single(t => t.Name == "model.embed_tokens.weight");
        HfModelFiles.WriteModel(tmp.Path, [.. HfModelFiles.ReadStories260K(), embedding with { Name = "lm_head.weight" }],
            HfModelFiles.Config(c => c["tie_word_embeddings"] = false));
        using (var weights = HuggingFaceCheckpoint.Load(tmp.Path))
        {
            Assert.False(weights.Config.SharedClassifier);
            Assert.False(weights.Classifier.Span == weights.TokenEmbedding.Span);
            Assert.Equal(weights.TokenEmbedding.Span.ToArray(), weights.Classifier.Span.ToArray());
        }
        Assert.Equal(HuggingFaceStories260KTests.Bits(ReferenceLogits()), HuggingFaceStories260KTests.Bits(HfRuns.Logits(HuggingFaceCheckpoint.Load(tmp.Path), HfRuns.Prompt)));
    }

    [Fact]
    public void Untied_config_without_lm_head_shares_the_embedding()
    {
        using var tmp = new TempDir();
        HfModelFiles.WriteModel(tmp.Path, HfModelFiles.ReadStories260K(), HfModelFiles.Config(c => c["tie_word_embeddings"] = false));
        using var weights = HuggingFaceCheckpoint.Load(tmp.Path);
        Assert.True(weights.Config.SharedClassifier);
        Assert.True(weights.Classifier.Span == weights.TokenEmbedding.Span);
    }

    [Fact]
    public void Tied_config_ignores_a_stored_lm_head()
    {
        using var tmp = new TempDir();
        var zeros = new HfTensor("lm_head.weight", "F32", [512, 64], new byte[512 * 64 * 4]);
        HfModelFiles.WriteModel(tmp.Path, [.. HfModelFiles.ReadStories260K(), zeros]);
        using var weights = HuggingFaceCheckpoint.Load(tmp.Path);
        Assert.True(weights.Classifier.Span == weights.TokenEmbedding.Span);
    }

    [Fact]
    public void Extra_buffers_such_as_rotary_inv_freq_are_ignored()
    {
        using var tmp = new TempDir();
        var invFreq = new HfTensor("model.layers.0.self_attn.rotary_emb.inv_freq", "F32", [4], new byte[16]);
        HfModelFiles.WriteModel(tmp.Path, [.. HfModelFiles.ReadStories260K(), invFreq]);
        using var weights = HuggingFaceCheckpoint.Load(tmp.Path);
        Assert.Equal(5, weights.Layers.Count);
    }

    [Fact]
    public void Config_defaults_and_alternative_spellings()
    {
        using var tmp = new TempDir();
        HfModelFiles.WriteModel(tmp.Path, HfModelFiles.ReadStories260K(), HfModelFiles.Config(c =>
        {
            c.Remove("model_type");            // architectures alone identifies the model
            c.Remove("num_key_value_heads");   // → num_attention_heads (no grouped-query attention)
            c.Remove("rms_norm_eps");          // → 1e-6
            c.Remove("rope_theta");            // → 10000
            c["eos_token_id"] = new JsonArray(2, 5); // a list: the first is the model's own
            c["bos_token_id"] = null;          // → 1
            c["rope_scaling"] = null;          // null means plain RoPE
        }));
        var config = HuggingFaceConfig.Load(tmp.File("config.json"));
        Assert.Equal((8, 1e-6f, 10000f, 1, 2), (config.NumKeyValueHeads, config.RmsNormEps, config.RopeTheta, config.BosTokenId, config.EosTokenId));
        // With 8 kv heads the stored k/v projections ([32, 64]) no longer fit: the shape check says so.
        var e = Assert.Throws<InvalidDataException>(() => HuggingFaceCheckpoint.Load(tmp.Path));
        Assert.Contains("self_attn.k_proj.weight\" has shape [32, 64]", e.Message);
    }

    [Fact]
    public void Config_settings_reach_the_model_configuration()
    {
        using var tmp = new TempDir();
        HfModelFiles.WriteModel(tmp.Path, HfModelFiles.ReadStories260K(), HfModelFiles.Config(c =>
        {
            c["rope_theta"] = 500000.0;
            c["rms_norm_eps"] = 1e-6;
            c["max_position_embeddings"] = 256;
            c["bos_token_id"] = 3;
            c["eos_token_id"] = new JsonArray(4, 2);
        }));
        using var weights = HuggingFaceCheckpoint.Load(tmp.Path);
        var c = weights.Config;
        Assert.Equal((500000f, 1e-6f, 256, 3, 4), (c.RopeTheta, c.NormEpsilon, c.MaxSequenceLength, c.BosId, c.EosId));
        Assert.Equal([2], c.StopIds);
    }

    /// <summary>A Mistral configuration with no sliding window (or one as long as the context) is the same Llama model.</summary>
    [Theory]
    [InlineData(null)]
    [InlineData(4096)]
    public void Mistral_without_a_binding_sliding_window_computes_the_llama_model(int? window)
    {
        using var tmp = new TempDir();
        HfModelFiles.WriteModel(tmp.Path, HfModelFiles.ReadStories260K(), HfModelFiles.Config(c =>
        {
            c["model_type"] = "mistral";
            c["architectures"] = new JsonArray("MistralForCausalLM");
            c["sliding_window"] = window;
        }));
        Assert.Equal(HuggingFaceStories260KTests.Bits(ReferenceLogits()), HuggingFaceStories260KTests.Bits(HfRuns.Logits(HuggingFaceCheckpoint.Load(tmp.Path), HfRuns.Prompt)));
    }

    /// <summary>Llama 3's way: several eos ids in config.json and more in generation_config.json; all end a generation.</summary>
    [Fact]
    public void Eos_lists_and_generation_config_give_the_stop_ids()
    {
        using var tmp = new TempDir();
        HfModelFiles.WriteModel(tmp.Path, HfModelFiles.ReadStories260K(), HfModelFiles.Config(c => c["eos_token_id"] = new JsonArray(2, 7, 8)));
        File.WriteAllText(tmp.File("generation_config.json"), """{"bos_token_id": 1, "eos_token_id": [2, 8, 9], "temperature": 0.6}""");
        using (var weights = HuggingFaceCheckpoint.Load(tmp.Path))
        {
            Assert.Equal(2, weights.Config.EosId);
            Assert.Equal([7, 8, 9], weights.Config.StopIds);
            Assert.True(weights.Config.IsEndOfSequence(9));
            Assert.False(weights.Config.IsEndOfSequence(10));
        }

        File.WriteAllText(tmp.File("generation_config.json"), """{"eos_token_id": [2, 600]}""");
        var e = Assert.Throws<InvalidDataException>(() => HuggingFaceCheckpoint.Load(tmp.Path));
        Assert.Contains("eos_token_id = 600 is outside the vocabulary", e.Message);
        File.WriteAllText(tmp.File("generation_config.json"), """{"eos_token_id": "two"}""");
        e = Assert.Throws<InvalidDataException>(() => HuggingFaceCheckpoint.Load(tmp.Path));
        Assert.Contains("generation_config.json: field eos_token_id", e.Message);
    }
}
