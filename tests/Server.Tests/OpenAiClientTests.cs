using Microsoft.Extensions.AI;
using MlPipelines.AI.Tests;
using MlPipelines.ManagedEngine.Sampling;

namespace MlPipelines.Server.Tests;

/// <summary>
/// The official OpenAI client pointed at the server gets what the library's clients give when called directly, for the
/// same seed and options (and the direct chat client is itself held to the library's Generator).
/// </summary>
public class OpenAiClientTests
{
    private static readonly ChatMessage[] Story = [new(ChatRole.User, "Once upon a time")];

    private static ChatOptions Sampled(long seed) => new() { Temperature = 0.8f, TopP = 0.9f, Seed = seed, MaxOutputTokens = 40 };

    [Fact]
    public async Task A_chat_completion_equals_the_chat_client_called_directly_and_the_generator()
    {
        await using ServedModel served = await ServedModel.StartAsync();
        using IChatClient openAi = served.OpenAiChat();

        ChatResponse response = await openAi.GetResponseAsync(Story, Sampled(7));
        ChatResponse direct = await served.ReferenceChat.GetResponseAsync(Story, Sampled(7));

        var tokenizer = served.Model.Tokenizer;
        (string generated, int tokens) = Reference.Generate(served.Model.Model, tokenizer, Reference.Plain(tokenizer, "Once upon a time"),
            new SamplingOptions { Temperature = 0.8f, TopP = 0.9f, Seed = 7 }, 40);
        Assert.Equal(generated, direct.Text);
        Assert.Equal(direct.Text, response.Text);
        Assert.Equal(direct.FinishReason, response.FinishReason);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(direct.Usage!.InputTokenCount, response.Usage!.InputTokenCount);
        Assert.Equal(tokens, response.Usage.OutputTokenCount);
        Assert.Equal(ServedModel.ModelId, response.ModelId);
    }

    [Fact]
    public async Task A_streamed_chat_completion_equals_the_direct_stream_with_its_finish_reason_and_usage()
    {
        await using ServedModel served = await ServedModel.StartAsync();
        using IChatClient openAi = served.OpenAiChat();

        List<ChatResponseUpdate> streamed = await Reference.Stream(openAi, "Once upon a time", Sampled(21));
        List<ChatResponseUpdate> direct = await Reference.Stream(served.ReferenceChat, "Once upon a time", Sampled(21));

        Assert.Equal(Reference.Text(direct), Reference.Text(streamed));
        Assert.True(streamed.Count > 2, "the reply arrives in pieces");
        ChatResponse whole = streamed.ToChatResponse(), expected = direct.ToChatResponse();
        Assert.Equal(expected.FinishReason, whole.FinishReason);
        Assert.Equal(expected.Usage!.OutputTokenCount, whole.Usage!.OutputTokenCount);
        Assert.Equal(expected.Usage.InputTokenCount, whole.Usage.InputTokenCount);
    }

    [Fact]
    public async Task Stop_sequences_end_the_reply_as_they_do_directly()
    {
        await using ServedModel served = await ServedModel.StartAsync();
        using IChatClient openAi = served.OpenAiChat();
        var options = new ChatOptions { MaxOutputTokens = 60, StopSequences = ["Lily", "park"] };

        ChatResponse response = await openAi.GetResponseAsync(Story, options);
        ChatResponse direct = await served.ReferenceChat.GetResponseAsync(Story, options.Clone());

        Assert.Equal(direct.Text, response.Text);
        Assert.Equal(ChatFinishReason.Stop, direct.FinishReason);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
    }

    [Fact]
    public async Task Embeddings_equal_the_generator_called_directly()
    {
        await using ServedModel served = await ServedModel.StartAsync();
        using IEmbeddingGenerator<string, Embedding<float>> openAi = served.OpenAiEmbeddings();
        string[] texts = ["Once upon a time", "Lily went to the park.", "x"];

        GeneratedEmbeddings<Embedding<float>> embedded = await openAi.GenerateAsync(texts);
        GeneratedEmbeddings<Embedding<float>> direct = await served.ReferenceEmbeddings.GenerateAsync(texts);

        Assert.Equal(texts.Length, embedded.Count);
        for (int i = 0; i < texts.Length; i++)
            Assert.Equal(direct[i].Vector.ToArray(), embedded[i].Vector.ToArray());
        Assert.Equal(direct.Usage!.InputTokenCount, embedded.Usage!.InputTokenCount);
    }
}
