using MlPipelines.ManagedEngine.Generation;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Sampling;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Generation;

/// <summary>Streamed text equals the tokenizer's decoding of the same generation, and never splits a character.</summary>
public class TextStreamTests
{
    private static string Gguf => Path.Combine(TestPaths.Models, "tiny-random-gguf", "llama-2-tiny-random.gguf");
    private static readonly Lazy<MlPipelines.ManagedEngine.Inference.TransformerModel> Model = new(() => ManagedModelLoader.LoadModel(Gguf));

    [Theory]
    [InlineData(1UL)]
    [InlineData(7UL)]
    [InlineData(133742UL)]
    public async Task Chunks_join_to_the_decoded_ids_and_hold_back_partial_characters(ulong seed)
    {
        // The Llama 2 vocabulary on the random tiny GGUF model: sampling at a high temperature produces byte-fallback
        // pieces (<0xE2> <0x96> ...) that only make characters together.
        var model = Model.Value;   // shared by the cases (sessions are independent); loading widens F16 weights once
        var tokenizer = ManagedModelLoader.LoadTokenizer(null, Gguf);
        var options = new GenerationOptions { MaxSteps = 200, Sampling = new SamplingOptions { Temperature = 1.5f, TopP = 1f, Seed = seed } };

        using var a = model.CreateSession();
        var chunks = new List<string>();
        await foreach (string chunk in TextStream.GenerateTextAsync(a, tokenizer, "Hello", options))
            chunks.Add(chunk);

        using var b = model.CreateSession();
        int[] prompt = tokenizer.Encode("Hello", addBos: true, addEos: false);
        int[] generated = Generator.Generate(b, prompt, options).Where(t => !t.IsPrompt).Select(t => t.Id).ToArray();
        string expected = tokenizer.Decode([.. prompt, .. generated])![tokenizer.Decode(prompt)!.Length..];

        Assert.Contains(generated, id => id is >= 3 and <= 258);   // byte-fallback pieces were generated (ids 3–258 are <0x00>–<0xFF>)
        Assert.Equal(expected, string.Concat(chunks));
        Assert.All(chunks, c => Assert.False(char.IsHighSurrogate(c[^1]), "a chunk ends inside a surrogate pair"));
        Assert.Equal(expected.Count(c => c == '\uFFFD'), chunks.Sum(c => c.Count(ch => ch == '\uFFFD')));
    }
}
