using MlPipelines.ManagedEngine.Generation;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.Stress.Tests.Support;

namespace MlPipelines.Stress.Tests;

/// <summary>
/// Generations cancelled mid-call while other threads generate on the same model: the cancelled call throws
/// <see cref="OperationCanceledException"/>, every call that is not cancelled gives exactly what it gives alone, and
/// the session a cancelled call used gives the right result on its next call.
/// </summary>
[Collection(StressCollection.Name)]
public class CancellationTests(StoriesEngines engines)
{
    private const int Callers = 12, CallsPerCaller = 6;

    [Theory]
    [MemberData(nameof(StoriesEngines.Both), MemberType = typeof(StoriesEngines))]
    public void Cancelled_generations_throw_and_leave_the_other_calls_and_their_sessions_intact(string engine)
    {
        Dictionary<Call, string> expected = engines.References(engine);
        using ILanguageModel shared = engines.Load(engine, threads: 3);
        var stories = new StoriesCalls(shared, engines.Tokenizer);
        int cancelled = 0, racedToTheEnd = 0;

        Concurrently.Run(Callers, caller =>
        {
            var random = new Random(caller);
            using IModelSession session = shared.CreateSession();
            for (int k = 0; k < CallsPerCaller; k++)
            {
                var call = new Call(CallKind.Generate, random.Next(8));
                string reference = expected[call];
                switch (k % 3)
                {
                    case 0:
                        Assert.True(reference == stories.Run(call, session), $"caller {caller}: {call} differs.");
                        break;
                    case 1:
                        // Cancelled from inside the stream at a random step before its end: it must stop with the exception.
                        int steps = reference.Split(' ').Length, cancelAt = random.Next(1, steps);
                        Assert.ThrowsAny<OperationCanceledException>(() => GenerateCancellingAt(stories, session, call.Index, cancelAt));
                        Interlocked.Increment(ref cancelled);
                        Assert.True(reference == stories.Run(call, session), $"caller {caller}: {call} differs on the session after its cancellation.");
                        break;
                    default:
                        // Cancelled by a timer racing with the call (sync or async): either it finished, and is right, or it threw.
                        using (var timer = new CancellationTokenSource(TimeSpan.FromMilliseconds(random.Next(0, 4))))
                        {
                            try
                            {
                                string result = caller % 2 == 0 ? stories.Run(call, session, timer.Token) : GenerateAsync(stories, session, call.Index, timer.Token);
                                Assert.True(reference == result, $"caller {caller}: {call} differs though it was not cancelled.");
                                Interlocked.Increment(ref racedToTheEnd);
                            }
                            catch (OperationCanceledException)
                            {
                                Interlocked.Increment(ref cancelled);
                            }
                        }
                        break;
                }
            }
        });

        Assert.InRange(cancelled, Callers * CallsPerCaller / 3, Callers * CallsPerCaller);
        // The pool and the model stay usable: one more call on a new session after all of that.
        using IModelSession after = shared.CreateSession();
        Assert.Equal(expected[new Call(CallKind.Generate, 3)], stories.Run(new Call(CallKind.Generate, 3), after));
    }

    /// <summary>Streams a generation and cancels its token after <paramref name="cancelAt"/> tokens, reading on.</summary>
    private static void GenerateCancellingAt(StoriesCalls stories, IModelSession session, int index, int cancelAt)
    {
        using var source = new CancellationTokenSource();
        session.Reset();
        int seen = 0;
        foreach (GeneratedToken _ in Generator.Generate(session, stories.Encode(index), StoriesCalls.Generation(index), source.Token))
            if (++seen == cancelAt) source.Cancel();
    }

    private static string GenerateAsync(StoriesCalls stories, IModelSession session, int index, CancellationToken cancellationToken) =>
        Task.Run(async () =>
        {
            session.Reset();
            var ids = new List<int>();
            await foreach (GeneratedToken token in Generator.GenerateAsync(session, stories.Encode(index), StoriesCalls.Generation(index), cancellationToken))
                ids.Add(token.Id);
            return Fingerprint.Of(ids);
        }).GetAwaiter().GetResult();
}
