using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.Jobs.Benchmarks;

/// <summary>One engine at one thread count, to be measured.</summary>
/// <param name="Engine">The engine's name as reported (<c>managed</c>, <c>onnx</c>).</param>
/// <param name="Threads">The thread count the model was opened with.</param>
/// <param name="Model">The model, opened with that thread count; the caller disposes it.</param>
/// <param name="LoadSeconds">How long opening the model took (null: not timed). Reported beside the speeds.</param>
/// <remarks><see cref="BenchmarkModel.OpenTarget"/> opens one with everything recorded.</remarks>
public sealed record BenchmarkTarget(string Engine, int Threads, ILanguageModel Model, double? LoadSeconds = null)
{
    /// <summary>How the engine holds the weights and what opening the model cost in memory (null: not recorded).</summary>
    public ModelLoad? Load { get; init; }
}

/// <summary>
/// Measures decode and prefill speed of one or more engines/thread counts on the same model. Each target
/// is warmed up until its timings settle (the .NET tiered JIT keeps hot loops on the slow tier for seconds),
/// then the measured runs interleave the targets (run 1 of every target, then run 2, …) so that a noisy
/// machine's slow spells spread over all of them instead of landing on one. Around each target's measured run,
/// outside its timed calls, the process's peak resident memory is reset and read (<see cref="PeakMemory"/>).
/// </summary>
public static class EngineBenchmark
{
    // Warm-up rounds are short versions of the measured workloads, so a round on a large model stays brief.
    private const int WarmupDecodeTokens = 16, WarmupPrefillTokens = 64;

    // How long the JIT must have compiled nothing before the warm-up may end (tiered compilation promotes hot methods in
    // the background, after a call-counting delay of 100 ms).
    private const double JitQuietSeconds = 0.5;

    /// <summary>Runs the benchmark; returns one row per target, in the order given.</summary>
    /// <param name="targets">The engines/thread counts; all must run models of the same configuration.</param>
    /// <param name="options">What to measure.</param>
    /// <param name="progress">Receives a line per warm-up and per measured run (null: silent).</param>
    /// <param name="cancellationToken">Stops between forward calls.</param>
    public static IReadOnlyList<BenchmarkRow> Run(IReadOnlyList<BenchmarkTarget> targets, BenchmarkOptions options,
        Action<string>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(options);
        if (targets.Count == 0)
            throw new ArgumentException("At least one engine/thread count is needed.", nameof(targets));
        ModelConfig config = targets[0].Model.Config;
        options.Validate(config);
        foreach (var t in targets)
            if (t.Model.Config != config)
                throw new ArgumentException($"{Label(t)} runs a model of another shape than {Label(targets[0])}.", nameof(targets));

        int[] ids = TokenIds(options, config.VocabSize);
        var states = targets.Select(t => new TargetState(t, config.VocabSize, options)).ToArray();
        try
        {
            foreach (var state in states)
            {
                state.Warmup = WarmUp(state, ids, options, cancellationToken);
                progress?.Invoke(state.Warmup.Rounds == 0 ? $"warm-up {Label(state.Target)}: none"
                    : $"warm-up {Label(state.Target)}: {state.Warmup.Rounds} rounds, " +
                      $"{state.Warmup.Seconds.ToString("F1", CultureInfo.InvariantCulture)} s{(state.Warmup.Stable ? "" : " (not stable)")}");
            }
            for (int run = 0; run < options.Runs; run++)
            {
                foreach (var state in states)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    // Memory is read between the timed calls: the peak is reset before this target's run, read after it.
                    bool reset = ProcessMemory.TryResetPeak();
                    double decode = options.DecodeTokens / state.TimeDecode(ids, options.DecodeTokens);
                    state.Decode.Add(decode);
                    var line = $"run {run + 1}/{options.Runs} {Label(state.Target)}: decode {decode:F1} tok/s";
                    for (int p = 0; p < options.PrefillLengths.Count; p++)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        int length = options.PrefillLengths[p];
                        double prefill = length / state.TimePrefill(ids, length);
                        state.Prefill[p].Add(prefill);
                        line += $", prefill-{length} {prefill:F1} tok/s";
                    }
                    state.NotePeak(ProcessMemory.PeakResidentBytes(), sinceProcessStart: !reset);
                    progress?.Invoke(line);
                }
            }
            return states.Select(s => s.ToRow(options)).ToArray();
        }
        finally
        {
            foreach (var state in states)
                state.Dispose();
        }
    }

    /// <summary>How a target is named in progress lines and tables: <c>managed ×2</c>.</summary>
    public static string Label(BenchmarkTarget target) => $"{target.Engine} ×{target.Threads}";

    // Short rounds until two consecutive ones agree, the least warm-up time has passed and the JIT has compiled nothing
    // for a while, then one untimed pass of the full workloads so buffers and arenas have their final sizes before
    // measuring. The JIT condition matters for small models: their rounds agree within the tolerance while hot methods
    // are still waiting for their optimized tier (measured on 15m Q4_0, one thread, one second of warm-up: prefill-128
    // 4121–8221 tok/s with tiered compilation, 8832–11770 without it).
    private static WarmupSummary WarmUp(TargetState state, int[] ids, BenchmarkOptions o, CancellationToken ct)
    {
        if (o.WarmupSeconds == 0)
            return new WarmupSummary(0, 0, Stable: false);
        long start = Stopwatch.GetTimestamp();
        double previous = double.NaN;
        int rounds = 0;
        bool stable = false;
        long compiled = JitInfo.GetCompiledMethodCount(), quietSince = start;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            double round = state.TimeDecode(ids, Math.Min(o.DecodeTokens, WarmupDecodeTokens));
            foreach (int length in o.PrefillLengths)
                round += state.TimePrefill(ids, Math.Min(length, WarmupPrefillTokens));
            rounds++;
            long now = JitInfo.GetCompiledMethodCount();
            if (now != compiled)
                (compiled, quietSince) = (now, Stopwatch.GetTimestamp());
            bool jitQuiet = Stopwatch.GetElapsedTime(quietSince).TotalSeconds >= JitQuietSeconds;
            stable = Math.Abs(round - previous) <= o.WarmupTolerance * previous && jitQuiet;
            double elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
            if ((stable && elapsed >= o.WarmupSeconds) || elapsed >= o.MaxWarmupSeconds)
                break;
            previous = round;
        }
        state.TimeDecode(ids, o.DecodeTokens);
        foreach (int length in o.PrefillLengths)
            state.TimePrefill(ids, length);
        return new WarmupSummary(rounds, Stopwatch.GetElapsedTime(start).TotalSeconds, stable);
    }

    // Random but fixed: the same seed gives the same prompt and prefill ids on every engine and machine.
    private static int[] TokenIds(BenchmarkOptions o, int vocab)
    {
        int count = Math.Max(o.PromptTokens, o.PrefillLengths.DefaultIfEmpty(0).Max());
        var random = new Random(o.Seed);
        return Enumerable.Range(0, count).Select(_ => random.Next(vocab)).ToArray();
    }

    private sealed class TargetState : IDisposable
    {
        private readonly IModelSession _session;
        private readonly float[] _logits;
        private readonly int _promptTokens;

        public TargetState(BenchmarkTarget target, int vocab, BenchmarkOptions o)
        {
            Target = target;
            _session = target.Model.CreateSession();
            _logits = new float[vocab];
            _promptTokens = o.PromptTokens;
            Prefill = o.PrefillLengths.Select(_ => new List<double>()).ToArray();
        }

        public BenchmarkTarget Target { get; }
        public List<double> Decode { get; } = [];
        public List<double>[] Prefill { get; }
        public WarmupSummary Warmup { get; set; } = new(0, 0, false);
        public PeakMemory? Peak { get; private set; }

        public void NotePeak(long bytes, bool sinceProcessStart) =>
            Peak = new PeakMemory(Math.Max(bytes, Peak?.Bytes ?? 0), sinceProcessStart || Peak?.SinceProcessStart == true);

        public double TimeDecode(int[] ids, int tokens) =>
            SessionTimings.Decode(_session, ids.AsSpan(0, _promptTokens), tokens, _logits);

        public double TimePrefill(int[] ids, int length) =>
            SessionTimings.Prefill(_session, ids.AsSpan(0, length), _logits);

        public BenchmarkRow ToRow(BenchmarkOptions o) => new(Target.Engine, Target.Threads, Measurement.Of(Decode),
            o.PrefillLengths.Select((length, i) => new PrefillMeasurement(length, Measurement.Of(Prefill[i]))).ToArray(), Warmup)
        {
            LoadSeconds = Target.LoadSeconds,
            Load = Target.Load,
            Peak = Peak,
        };

        public void Dispose() => _session.Dispose();
    }
}
