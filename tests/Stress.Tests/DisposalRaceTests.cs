using MlPipelines.ManagedEngine.Model;
using MlPipelines.Stress.Tests.Support;

namespace MlPipelines.Stress.Tests;

/// <summary>
/// A model disposed while other threads are in the middle of calls on it: each of those calls finishes with the right
/// result or fails with <see cref="ObjectDisposedException"/> — never a crash (the weights are memory-mapped, the ONNX
/// Runtime session is native), never wrong output, never a hang — and every call after the disposal fails promptly
/// with <see cref="ObjectDisposedException"/>.
/// </summary>
[Collection(StressCollection.Name)]
public class DisposalRaceTests(StoriesEngines engines)
{
    private const int Callers = 8, MaxCallsPerCaller = 100_000;

    [Theory]
    [MemberData(nameof(StoriesEngines.AllFormats), MemberType = typeof(StoriesEngines))]
    public void Disposing_a_model_under_load_lets_calls_finish_correctly_or_throw_ObjectDisposedException(string engine)
    {
        Dictionary<Call, string> expected = engines.References(engine);
        ILanguageModel model = engines.Load(engine, threads: 2);
        var stories = new StoriesCalls(model, engines.TokenizerFor(engine));
        var sessions = new IModelSession[Callers];
        for (int i = 0; i < Callers; i++) sessions[i] = model.CreateSession();
        using var everyCallerBusy = new CountdownEvent(Callers);
        int[] completed = new int[Callers];

        Concurrently.Run(Callers, caller =>
        {
            // Generation and logits through a session, embedding through ForwardBatch; loop until the disposal is seen.
            Call[] mine = [new(CallKind.Generate, caller % 8), new(CallKind.Logits, (caller + 1) % 8), new(CallKind.Embed, (caller + 2) % 8)];
            for (int k = 0; ; k++)
            {
                Assert.True(k < MaxCallsPerCaller, $"caller {caller} never saw the disposal");
                Call call = mine[k % mine.Length];
                string result;
                try
                {
                    result = stories.Run(call, sessions[caller]);
                }
                catch (ObjectDisposedException)
                {
                    break;
                }
                Assert.True(expected[call] == result, $"{engine}, caller {caller}: {call} differs while the model was being disposed.");
                if (++completed[caller] == 1) everyCallerBusy.Signal();
            }
        },
        meanwhile: () =>
        {
            Concurrently.Await(everyCallerBusy.WaitHandle, "every caller to finish a call");
            model.Dispose();
        });

        // Afterwards every entry point refuses at once, and disposing (sessions, the model again) stays harmless.
        Assert.Throws<ObjectDisposedException>(() => model.CreateSession());
        Assert.Throws<ObjectDisposedException>(() => sessions[0].Forward(stories.Encode(0), 0, new float[model.Config.VocabSize]));
        Assert.Throws<ObjectDisposedException>(() => model.ForwardBatch([stories.Encode(1)], BatchOutputs.HiddenStates));
        foreach (IModelSession session in sessions) session.Dispose();
        model.Dispose();
    }

    [Theory]
    [MemberData(nameof(StoriesEngines.AllFormats), MemberType = typeof(StoriesEngines))]
    public void A_model_disposed_between_calls_refuses_the_next_call_and_releases_at_once(string engine)
    {
        ILanguageModel model = engines.Load(engine, threads: 1);
        var stories = new StoriesCalls(model, engines.TokenizerFor(engine));
        using IModelSession session = model.CreateSession();
        Assert.Equal(engines.References(engine)[new Call(CallKind.Logits, 2)], stories.Logits(session, 2));

        model.Dispose();

        Assert.Throws<ObjectDisposedException>(() => stories.Logits(session, 2));
        Assert.Throws<ObjectDisposedException>(() => stories.Embed(0));
        Assert.Throws<ObjectDisposedException>(() => model.CreateSession());
    }
}
