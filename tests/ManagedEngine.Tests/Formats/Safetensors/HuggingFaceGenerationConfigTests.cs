using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.ManagedEngine.Sampling;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Formats.Safetensors;

public class HuggingFaceGenerationConfigTests
{
    private static HuggingFaceGenerationConfig? Load(string json)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("generation_config.json"), json);
        return HuggingFaceGenerationConfig.Load(dir.Path);
    }

    [Fact]
    public void Llama_3_2_instruct_samples_at_its_own_temperature_and_top_p_with_transformers_top_k()
    {
        // Meta's generation_config.json for Llama-3.2-1B-Instruct.
        var config = Load("""
            {"bos_token_id": 128000, "do_sample": true, "eos_token_id": [128001, 128008, 128009],
             "temperature": 0.6, "top_p": 0.9, "transformers_version": "4.45.0.dev0"}
            """)!;
        Assert.Equal([128001, 128008, 128009], config.EosTokenIds);
        Assert.Equal(new SamplingOptions { Temperature = 0.6f, TopP = 0.9f, TopK = 50, Seed = 3 }, config.ToSamplingOptions(seed: 3));
    }

    [Fact]
    public void Without_do_sample_decoding_is_greedy_as_in_transformers()
    {
        Assert.Equal(0f, Load("""{"temperature": 0.6, "eos_token_id": 2}""")!.ToSamplingOptions().Temperature);
        using var empty = new TempDir();
        Assert.Null(HuggingFaceGenerationConfig.Load(empty.Path));
    }

    [Theory]
    [InlineData("""{"top_k": -1}""", "top_k = -1; expected an integer ≥ 0")]
    [InlineData("""{"top_p": -0.5}""", "top_p = -0.5; expected a number ≥ 0")]
    [InlineData("""{"max_new_tokens": 0}""", "max_new_tokens = 0; expected a positive integer")]
    [InlineData("""{"do_sample": "yes"}""", "do_sample")]
    [InlineData("""[1, 2]""", "generation_config.json")]
    public void Bad_values_are_named(string json, string expected)
    {
        var ex = Assert.Throws<InvalidDataException>(() => Load(json));
        Assert.Contains(expected, ex.Message);
    }
}
