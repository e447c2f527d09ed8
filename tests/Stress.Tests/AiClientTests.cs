using Microsoft.Extensions.AI;
using MlPipelines.AI;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.Stress.Tests.Support;

namespace MlPipelines.Stress.Tests;

/// <summary>
/// One <see cref="LlamaChatClient"/> and one <see cref="LlamaEmbeddingGenerator"/> called from many threads at once:
/// every reply equals the same request made alone (its session pool lends fewer sessions than there are callers, so
/// requests queue and sessions pass between requests with their cached prefixes), cancelled requests throw without
/// harming the others, and disposing a client under load gives the callers their result or
/// <see cref="ObjectDisposedException"/>.
/// </summary>
[Collection(StressCollection.Name)]
public class AiClientTests(StoriesEngines engines)
{
    private const int Callers = 12, RequestsPerCaller = 3, Sessions = 4;

    private static ChatOptions Request(int index) => new() { Temperature = 1f, TopP = 0.9f, Seed = 500 + index, MaxOutputTokens = 20 };

    private static string Reply(IChatClient client, int index, CancellationToken cancellationToken = default)
    {
        ChatResponse response = client.GetResponseAsync(StoriesCalls.Prompt(index), Request(index), cancellationToken).GetAwaiter().GetResult();
        return $"{response.FinishReason}|{response.Usage?.OutputTokenCount}|{response.Text}";
    }

    private LlamaChatClient Client(ILanguageModel model, bool ownsModel = false) =>
        new(model, engines.Tokenizer, format: null, new LlamaChatClientOptions { MaxConcurrentSessions = Sessions }, ownsModel);

    private string[] ReferenceReplies(string engine)
    {
        using ILanguageModel alone = engines.Load(engine, threads: 1);
        using LlamaChatClient client = Client(alone);
        return Enumerable.Range(0, 8).Select(i => Reply(client, i)).ToArray();
    }

    [Theory]
    [MemberData(nameof(StoriesEngines.Both), MemberType = typeof(StoriesEngines))]
    public void Concurrent_requests_on_one_chat_client_equal_each_request_alone_and_cancelled_ones_throw(string engine)
    {
        string[] expected = ReferenceReplies(engine);
        using ILanguageModel shared = engines.Load(engine, threads: 3);
        using LlamaChatClient client = Client(shared);
        int cancelled = 0;

        Concurrently.Run(Callers, caller =>
        {
            for (int k = 0; k < RequestsPerCaller; k++)
            {
                int index = (caller * 3 + k) % expected.Length;
                if (k == 1 && caller % 2 == 0)
                {
                    // Cancelled after the first streamed piece: the request throws, its session goes back to the pool.
                    using var source = new CancellationTokenSource();
                    Assert.ThrowsAny<OperationCanceledException>(() => Task.Run(async () =>
                    {
                        await foreach (ChatResponseUpdate _ in client.GetStreamingResponseAsync(StoriesCalls.Prompt(index), Request(index), source.Token))
                            source.Cancel();
                    }).GetAwaiter().GetResult());
                    Interlocked.Increment(ref cancelled);
                    continue;
                }
                Assert.True(expected[index] == Reply(client, index), $"{engine}, caller {caller}: reply {index} differs from the same request alone.");
            }
        });

        Assert.Equal(Callers / 2, cancelled);
        Assert.Equal(expected[5], Reply(client, 5));   // the pool is whole afterwards
    }

    [Theory]
    [MemberData(nameof(StoriesEngines.Both), MemberType = typeof(StoriesEngines))]
    public void Concurrent_embedding_requests_on_one_generator_equal_each_request_alone(string engine)
    {
        Dictionary<Call, string> expected = engines.References(engine);
        using ILanguageModel shared = engines.Load(engine, threads: 3);
        using var generator = new LlamaEmbeddingGenerator(shared, engines.Tokenizer);

        Concurrently.Run(Callers, caller =>
        {
            for (int k = 0; k < RequestsPerCaller; k++)
            {
                int index = (caller + k) % 8;
                string[] texts = [StoriesCalls.Prompt(index), StoriesCalls.Prompt(index + 3), StoriesCalls.Prompt(index + 5)];
                GeneratedEmbeddings<Embedding<float>> result = generator.GenerateAsync(texts).GetAwaiter().GetResult();
                // The same three texts as StoriesCalls.Embed, so the reference is the Embedder's result made alone.
                Assert.True(expected[new Call(CallKind.Embed, index)] == Fingerprint.Of(result.Select(e => e.Vector.ToArray())),
                    $"{engine}, caller {caller}: embeddings {index} differ.");
            }
        });
    }

    [Theory]
    [MemberData(nameof(StoriesEngines.Both), MemberType = typeof(StoriesEngines))]
    public void Disposing_a_chat_client_and_an_embedding_generator_under_load_gives_results_or_ObjectDisposedException(string engine)
    {
        string[] replies = ReferenceReplies(engine);
        Dictionary<Call, string> embeddings = engines.References(engine);
        var client = Client(engines.Load(engine, threads: 2), ownsModel: true);
        var generator = new LlamaEmbeddingGenerator(engines.Load(engine, threads: 2), engines.Tokenizer, ownsModel: true);
        using var everyCallerBusy = new CountdownEvent(Callers);

        Concurrently.Run(Callers, caller =>
        {
            bool signalled = false;
            for (int k = 0; ; k++)
            {
                Assert.True(k < 100_000, $"caller {caller} never saw the disposal");
                int index = (caller + k) % 8;
                try
                {
                    if (caller % 2 == 0)
                        Assert.True(replies[index] == Reply(client, index), $"caller {caller}: reply {index} differs while the client was disposed.");
                    else
                        Assert.True(embeddings[new Call(CallKind.Embed, index)] == Fingerprint.Of(generator.GenerateAsync(
                            [StoriesCalls.Prompt(index), StoriesCalls.Prompt(index + 3), StoriesCalls.Prompt(index + 5)]).GetAwaiter().GetResult()
                            .Select(e => e.Vector.ToArray())), $"caller {caller}: embeddings {index} differ while the generator was disposed.");
                }
                catch (ObjectDisposedException)
                {
                    break;
                }
                if (!signalled) everyCallerBusy.Signal();
                signalled = true;
            }
        },
        meanwhile: () =>
        {
            Concurrently.Await(everyCallerBusy.WaitHandle, "every caller to finish a request");
            client.Dispose();
            generator.Dispose();
        });

        Assert.Throws<ObjectDisposedException>(() => Reply(client, 0));
        Assert.Throws<ObjectDisposedException>(() => generator.GenerateAsync(["x"]).GetAwaiter().GetResult());
    }
}
