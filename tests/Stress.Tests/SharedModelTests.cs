using System.Text.Json;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Parity;
using MlPipelines.Stress.Tests.Support;

namespace MlPipelines.Stress.Tests;

/// <summary>
/// One model shared by many threads at once — generation, logits, batch embedding and tokenization interleaved, each
/// thread with its own session — gives, call for call and bit for bit, what the same call gives alone on a
/// single-threaded model. The shared model computes with more threads than the machine has cores, so every session's
/// worker pool competes with the others' for the CPU.
/// </summary>
[Collection(StressCollection.Name)]
public class SharedModelTests(StoriesEngines engines)
{
    // 16 callers whose sessions compute with 3 threads each: 48 threads on a two-core CI machine.
    private const int Callers = 16, EngineThreads = 3, CallsPerCaller = 6;

    [Theory]
    [MemberData(nameof(StoriesEngines.AllFormats), MemberType = typeof(StoriesEngines))]
    public void Every_call_from_sixteen_threads_equals_the_same_call_alone(string engine)
    {
        Dictionary<Call, string> expected = engines.References(engine);
        Call[] calls = expected.Keys.ToArray();
        using ILanguageModel shared = engines.Load(engine, EngineThreads);
        var stories = new StoriesCalls(shared, engines.TokenizerFor(engine));

        Concurrently.Run(Callers, caller =>
        {
            using IModelSession session = shared.CreateSession();
            for (int k = 0; k < CallsPerCaller; k++)
            {
                // Callers walk the calls from different starting points and strides, so different kinds overlap.
                Call call = calls[(caller * 5 + k * (caller % 3 + 1)) % calls.Length];
                Assert.True(expected[call] == stories.Run(call, session), $"{engine}, caller {caller}: {call} differs from the same call alone.");
            }
        });
    }

    [Fact]
    public void Managed_sessions_with_more_threads_than_cores_agree_with_one_thread_while_batches_run_beside_them()
    {
        Dictionary<Call, string> expected = engines.References(StoriesEngines.Managed);
        using var shared = (TransformerModel)engines.Load(StoriesEngines.Managed, threads: 1);
        var stories = new StoriesCalls(shared, engines.Tokenizer);
        int oversubscribed = Environment.ProcessorCount * 2 + 1;

        Concurrently.Run(8, caller =>
        {
            // Even callers decode on sessions whose pools have twice the cores; odd ones embed (ForwardBatch's rows in parallel).
            using TransformerSession session = shared.CreateTransformerSession(threads: caller % 2 == 0 ? oversubscribed : 1);
            for (int k = 0; k < 8; k++)
            {
                Call call = new(caller % 2 == 0 ? (k % 2 == 0 ? CallKind.Generate : CallKind.Logits) : CallKind.Embed, (caller + k) % 8);
                Assert.True(expected[call] == stories.Run(call, session), $"caller {caller} ({session.Threads} threads): {call} differs.");
            }
        });
    }

    [Fact]
    public void Parity_runs_on_both_shared_engines_from_many_threads_equal_the_same_comparison_alone()
    {
        var options = new ParityOptions { Steps = 8 };
        string Compare(ILanguageModel a, ILanguageModel b, int index) =>
            JsonSerializer.Serialize(ParityHarness.Compare(a, b, engines.Tokenizer, [StoriesCalls.Prompt(index)], options).Prompts);

        string[] expected;
        using (ILanguageModel managedAlone = engines.Load(StoriesEngines.Managed, 1), onnxAlone = engines.Load(StoriesEngines.Onnx, 1))
            expected = Enumerable.Range(0, 4).Select(i => Compare(managedAlone, onnxAlone, i)).ToArray();

        using ILanguageModel managed = engines.Load(StoriesEngines.Managed, EngineThreads), onnx = engines.Load(StoriesEngines.Onnx, EngineThreads);
        var managedCalls = new StoriesCalls(managed, engines.Tokenizer);
        var onnxCalls = new StoriesCalls(onnx, engines.Tokenizer);
        Dictionary<Call, string> managedExpected = engines.References(StoriesEngines.Managed), onnxExpected = engines.References(StoriesEngines.Onnx);

        Concurrently.Run(12, caller =>
        {
            for (int k = 0; k < 3; k++)
            {
                int index = (caller + k) % expected.Length;
                if (caller % 3 == 0)
                {
                    Assert.True(expected[index] == Compare(managed, onnx, index), $"caller {caller}: the comparison of prompt {index} differs.");
                    continue;
                }
                // The others generate on each engine meanwhile, so the parity runs share the models with plain callers.
                (StoriesCalls stories, Dictionary<Call, string> reference) = caller % 3 == 1 ? (managedCalls, managedExpected) : (onnxCalls, onnxExpected);
                using IModelSession session = stories.Model.CreateSession();
                var call = new Call(CallKind.Generate, index);
                Assert.True(reference[call] == stories.Run(call, session), $"caller {caller}: {call} differs.");
            }
        });
    }
}
