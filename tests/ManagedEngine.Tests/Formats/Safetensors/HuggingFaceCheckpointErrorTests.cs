using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Formats.Safetensors;

/// <summary>
/// Model directories whose files are well-formed safetensors but do not make the model config.json
/// describes, or describe a model this engine does not compute.
/// </summary>
public class HuggingFaceCheckpointErrorTests
{
    private static T LoadFails<T>(IReadOnlyList<HfTensor> tensors, string? config, params string[] expectedInMessage) where T : Exception
    {
        using var tmp = new TempDir();
        HfModelFiles.WriteModel(tmp.Path, tensors, config);
        var e = Assert.Throws<T>(() => HuggingFaceCheckpoint.Load(tmp.Path).Dispose());
        Assert.Contains(tmp.Path, e.Message);
        foreach (string s in expectedInMessage)
            Assert.Contains(s, e.Message);
        return e;
    }

    private static IReadOnlyList<HfTensor> Original => HfModelFiles.ReadStories260K();

    [Fact]
    public void Tensor_with_the_wrong_shape_for_the_config_is_named() =>
        LoadFails<InvalidDataException>(
            HfModelFiles.Edited(t => t.Name == "model.layers.2.mlp.up_proj.weight" ? t with { Shape = [172, 63], Data = t.Data[..(172 * 63 * 4)] } : t),
            null, "model.safetensors", "tensor \"model.layers.2.mlp.up_proj.weight\" has shape [172, 63]", "config.json implies [172, 64]",
            "intermediate_size, hidden_size");

    [Fact]
    public void Transposed_tensor_is_named() =>
        LoadFails<InvalidDataException>(
            HfModelFiles.Edited(t => t.Name == "model.layers.0.mlp.down_proj.weight" ? t with { Shape = [172, 64] } : t),
            null, "tensor \"model.layers.0.mlp.down_proj.weight\" has shape [172, 64]", "implies [64, 172]");

    [Fact]
    public void Missing_tensor_is_named() =>
        LoadFails<InvalidDataException>(HfModelFiles.Edited(t => t.Name == "model.norm.weight" ? null : t),
            null, "tensor \"model.norm.weight\" is missing", "[64] ([hidden_size])");

    [Fact]
    public void Config_with_heads_not_dividing_hidden_size() =>
        LoadFails<InvalidDataException>(Original, HfModelFiles.Config(c => c["num_attention_heads"] = 7),
            "config.json", "num_attention_heads = 7 does not divide hidden_size = 64");

    [Fact]
    public void Config_with_kv_heads_not_dividing_heads() =>
        LoadFails<InvalidDataException>(Original, HfModelFiles.Config(c => c["num_key_value_heads"] = 3),
            "config.json", "num_key_value_heads = 3 does not divide num_attention_heads = 8");

    [Fact]
    public void Config_with_an_odd_head_size() =>
        LoadFails<InvalidDataException>(Original, HfModelFiles.Config(c => { c["num_attention_heads"] = 64; c["num_key_value_heads"] = 64; }),
            "config.json", "odd head size 1");

    [Fact]
    public void Config_missing_a_shape_field() =>
        LoadFails<InvalidDataException>(Original, HfModelFiles.Config(c => c.Remove("hidden_size")), "config.json", "hidden_size is missing");

    [Fact]
    public void Config_with_a_string_where_a_number_belongs() =>
        LoadFails<InvalidDataException>(Original, HfModelFiles.Config(c => c["vocab_size"] = "512"), "vocab_size = \"512\"", "expected an integer");

    [Fact]
    public void Config_that_is_not_json() =>
        LoadFails<InvalidDataException>(Original, "{\"hidden_size\": 64,", "config.json", "not valid JSON");

    [Fact]
    public void Config_whose_tensors_would_exceed_the_supported_size() =>
        LoadFails<InvalidDataException>(Original, HfModelFiles.Config(c => c["hidden_size"] = 65536),
            "hidden_size = 65536 and hidden_size = 65536 give self_attn.q_proj.weight 4294967296 floats");

    [Fact]
    public void Config_with_a_number_beyond_double_range() =>
        LoadFails<InvalidDataException>(Original, HfModelFiles.Config(c => c["rope_theta"] = System.Text.Json.Nodes.JsonNode.Parse("1e400")),
            "rope_theta = 1e400", "expected a finite number");

    [Fact]
    public void Config_with_an_eos_outside_the_vocabulary() =>
        LoadFails<InvalidDataException>(Original, HfModelFiles.Config(c => c["eos_token_id"] = 512), "eos_token_id = 512 is outside the vocabulary");

    [Fact]
    public void Config_with_a_larger_hidden_size_than_the_weights() =>
        LoadFails<InvalidDataException>(Original, HfModelFiles.Config(c => c["hidden_size"] = 128),
            "tensor \"model.embed_tokens.weight\" has shape [512, 64]", "implies [512, 128]");

    [Fact]
    public void Config_with_fewer_layers_than_the_weights() =>
        LoadFails<InvalidDataException>(Original, HfModelFiles.Config(c => c["num_hidden_layers"] = 4),
            "belongs to layer 4", "num_hidden_layers = 4");

    [Fact]
    public void Config_with_more_layers_than_the_weights() =>
        LoadFails<InvalidDataException>(Original, HfModelFiles.Config(c => c["num_hidden_layers"] = 6),
            "tensor \"model.layers.5.input_layernorm.weight\" is missing");

    public static TheoryData<string, string, string> Unsupported => new()
    {
        { "rope_scaling", """{"rope_type": "yarn", "factor": 4.0}""", "rope_scaling = {\"rope_type\":\"yarn\",\"factor\":4.0}; RoPE scaling \"yarn\"" },
        { "model_type", "\"qwen2\"", "model_type = \"qwen2\"" },
        { "sliding_window", "128", "sliding_window = 128 is shorter than max_position_embeddings" },
        { "hidden_act", "\"gelu\"", "hidden_act = \"gelu\"" },
        { "attention_bias", "true", "attention_bias = true" },
        { "mlp_bias", "true", "mlp_bias = true" },
    };

    [Fact]
    public void Head_dim_that_does_not_match_the_tensors_names_the_query_projection() =>
        LoadFails<InvalidDataException>(Original, HfModelFiles.Config(c => c["head_dim"] = 16),
            "implies [128, 64] ([num_attention_heads * head_dim, hidden_size])");

    [Fact]
    public void Odd_head_dim_is_refused_by_name() =>
        LoadFails<InvalidDataException>(Original, HfModelFiles.Config(c => c["head_dim"] = 7), "head_dim = 7 is odd");

    [Theory]
    [MemberData(nameof(Unsupported))]
    public void Config_of_a_model_the_engine_does_not_compute(string field, string json, string expected) =>
        LoadFails<NotSupportedException>(Original, HfModelFiles.Config(c => c[field] = System.Text.Json.Nodes.JsonNode.Parse(json)), expected);

    [Theory]
    [InlineData("""{"rope_type": "llama3", "factor": 8.0}""", "rope_scaling: low_freq_factor is missing")]
    [InlineData("""{"rope_type": "linear"}""", "rope_scaling: factor is missing")]
    [InlineData("""{"factor": 2.0}""", "names no rope_type")]
    [InlineData("""{"rope_type": "linear", "factor": 0.5}""", "factor is 0.5; expected a finite number ≥ 1")]
    [InlineData("""{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 4.0, "high_freq_factor": 1.0, "original_max_position_embeddings": 8192}""", "expected 0 < low_freq_factor < high_freq_factor")]
    public void Incomplete_rope_scaling_names_the_field(string json, string expected) =>
        LoadFails<InvalidDataException>(Original, HfModelFiles.Config(c => c["rope_scaling"] = System.Text.Json.Nodes.JsonNode.Parse(json)), expected);

    [Fact]
    public void Config_naming_neither_model_type_nor_architecture() =>
        LoadFails<InvalidDataException>(Original, HfModelFiles.Config(c => { c.Remove("model_type"); c.Remove("architectures"); }),
            "LlamaForCausalLM");

    [Fact]
    public void Weight_of_an_unsupported_dtype_is_named() =>
        LoadFails<NotSupportedException>(
            HfModelFiles.Edited(t => t.Name == "model.layers.1.self_attn.v_proj.weight" ? t with { DType = "I8", Shape = [32, 256] } : t),
            null, "tensor \"model.layers.1.self_attn.v_proj.weight\" has dtype I8", "F32, F16 and BF16");

    [Fact]
    public void Bias_tensor_is_rejected() =>
        LoadFails<NotSupportedException>([.. Original, new HfTensor("model.layers.0.self_attn.q_proj.bias", "F32", [64], new byte[256])],
            null, "model.layers.0.self_attn.q_proj.bias", "biases are not supported");

    [Fact]
    public void Missing_directory_config_or_weights()
    {
        using var tmp = new TempDir();
        Assert.Throws<DirectoryNotFoundException>(() => HuggingFaceCheckpoint.Load(tmp.File("absent")));
        var noConfig = Assert.Throws<FileNotFoundException>(() => HuggingFaceCheckpoint.Load(tmp.Path));
        Assert.Contains("config.json", noConfig.Message);
        File.WriteAllText(tmp.File("config.json"), HfModelFiles.Config());
        var noWeights = Assert.Throws<FileNotFoundException>(() => HuggingFaceCheckpoint.Load(tmp.Path));
        Assert.Contains("model.safetensors", noWeights.Message);
    }
}
