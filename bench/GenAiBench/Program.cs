using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntimeGenAI;
using MlPipelines.Jobs.Benchmarks;
using MlPipelines.OnnxEngine;

// genai-bench EXPORT_DIR THREADS [DECODE_TOKENS=64] [PROMPT_TOKENS=8] [ROUNDS=15]
//
// Decode speed of onnxruntime-genai's Generator and of this project's ONNX Runtime engine on the same export, in one
// process, rounds alternating (which engine goes first alternates too): each round times DECODE_TOKENS greedy steps after
// an untimed prompt of random ids, for genai then ours or ours then genai. On a shared machine whose memory bandwidth
// swings from second to second, the ratio of the two runs of one round is far steadier than either number; the report
// gives each engine's median and the median of the per-round ratios. Ours is timed as `mlpipe bench` times decode
// (SessionTimings.Decode: argmax of the previous logits, one forward call per token).
//
// ONLY=genai or ONLY=ours loads and times that engine alone (the other column reads 0): for runs in separate processes,
// alternated by a script, where neither engine's memory placement or idle thread pool can touch the other's.
//
// genai reads its intra-op thread count from genai_config.json only, so it sees the export through a temporary directory
// of links with that one setting changed; the export itself is left as it is.
if (args.Length < 2 || !Directory.Exists(args[0]) || !int.TryParse(args[1], out int threads) || threads < 1)
{
    Console.Error.WriteLine("usage: genai-bench EXPORT_DIR THREADS [DECODE_TOKENS=64] [PROMPT_TOKENS=8] [ROUNDS=15]");
    return 2;
}
int decode = args.Length > 2 ? int.Parse(args[2]) : 64;
int promptLength = args.Length > 3 ? int.Parse(args[3]) : 8;
int rounds = args.Length > 4 ? int.Parse(args[4]) : 15;

string view = Directory.CreateTempSubdirectory("genai-bench-").FullName;
try
{
    foreach (string file in Directory.GetFiles(args[0]))
        if (Path.GetFileName(file) != "genai_config.json")
            File.CreateSymbolicLink(Path.Combine(view, Path.GetFileName(file)), Path.GetFullPath(file));
    var config = JsonNode.Parse(File.ReadAllText(Path.Combine(args[0], "genai_config.json")))!;
    var sessionOptions = config["model"]!["decoder"]!["session_options"]!.AsObject();
    sessionOptions["intra_op_num_threads"] = threads;
    sessionOptions["inter_op_num_threads"] = 1;
    File.WriteAllText(Path.Combine(view, "genai_config.json"), config.ToJsonString());

    // Which loads first is a setting (ORDER=ours): the first model's weights may land in better-placed memory.
    bool oursFirst = Environment.GetEnvironmentVariable("ORDER") == "ours";
    string? only = Environment.GetEnvironmentVariable("ONLY");
    bool runGenai = only != "ours", runOurs = only != "genai";
    OnnxLanguageModel? early = oursFirst ? OnnxLanguageModel.Load(args[0], new EngineOptions { Threads = threads }) : null;
    using var genai = runGenai ? new Model(view) : null;
    using var ours = early ?? (runOurs ? OnnxLanguageModel.Load(args[0], new EngineOptions { Threads = threads }) : null);
    using var session = ours?.CreateSession();
    int vocabulary = OnnxLanguageModel.ReadManifest(args[0]).Config.VocabSize;
    var logits = new float[vocabulary];
    var random = new Random(1234);
    int[] prompt = Enumerable.Range(0, promptLength).Select(_ => random.Next(3, vocabulary)).ToArray();

    // genai's GenerateNextToken picks a token from the logits it has and runs the model for a token only when the next
    // call needs its logits: after AppendTokens (which runs the prompt) the first call runs nothing. So DECODE_TOKENS + 1
    // calls make exactly DECODE_TOKENS model runs, as many as ours makes.
    double Genai()
    {
        if (genai is null) return 0;
        using var options = new GeneratorParams(genai);
        options.SetSearchOption("max_length", promptLength + decode + 1);
        options.SetSearchOption("min_length", promptLength + decode + 1);   // no early stop at an end id
        options.SetSearchOption("do_sample", false);
        using var generator = new Generator(genai, options);
        generator.AppendTokens(prompt);   // the prompt's forward pass, untimed
        var clock = Stopwatch.StartNew();
        for (int i = 0; i <= decode && !generator.IsDone(); i++)
            generator.GenerateNextToken();
        return decode / clock.Elapsed.TotalSeconds;
    }
    double Ours() => session is null ? 0 : decode / SessionTimings.Decode(session, prompt, decode, logits);

    // INTERLEAVE=token: one round decodes with both engines a token at a time, alternating which goes first, and times
    // each step apart, so both go through the same stretch of a noisy machine's time: at one thread the per-round ratio
    // then stays within a few percent. Not for more threads: the idle engine's ONNX Runtime pool spins on a core right
    // after its step and slows the other's (both fall to half their speed on 2 vCPUs).
    (double Genai, double Ours) Interleaved()
    {
        using var options = new GeneratorParams(genai!);
        options.SetSearchOption("max_length", promptLength + decode + 1);
        options.SetSearchOption("min_length", promptLength + decode + 1);
        options.SetSearchOption("do_sample", false);
        using var generator = new Generator(genai!, options);
        generator.AppendTokens(prompt);
        generator.GenerateNextToken();   // picks from the prompt's logits; runs nothing
        session!.Rewind(0);
        session.Forward(prompt, 0, logits);
        int position = prompt.Length;
        long genaiTicks = 0, oursTicks = 0;
        for (int i = 0; i < decode; i++)
        {
            for (int turn = 0; turn < 2; turn++)
            {
                long start = Stopwatch.GetTimestamp();
                if ((turn == 0) == (i % 2 == 0))
                {
                    generator.GenerateNextToken();
                    genaiTicks += Stopwatch.GetTimestamp() - start;
                }
                else
                {
                    int next = MlPipelines.ManagedEngine.Sampling.Sampler.ArgMax(logits);
                    session.Forward([next], position++, logits);
                    oursTicks += Stopwatch.GetTimestamp() - start;
                }
            }
        }
        return (decode * (double)Stopwatch.Frequency / genaiTicks, decode * (double)Stopwatch.Frequency / oursTicks);
    }
    bool interleave = Environment.GetEnvironmentVariable("INTERLEAVE") == "token" && genai is not null && session is not null;

    for (int i = 0; i < 2; i++) { Genai(); Ours(); if (interleave) Interleaved(); }   // warm-up: JIT, arenas, prepacked weights
    var g = new List<double>();
    var o = new List<double>();
    var ratios = new List<double>();
    for (int round = 0; round < rounds; round++)
    {
        double a, b;
        if (interleave) (a, b) = Interleaved();
        else if (round % 2 == 0) { a = Genai(); b = Ours(); }
        else { b = Ours(); a = Genai(); }
        g.Add(a);
        o.Add(b);
        ratios.Add(b / a);
        Console.Error.WriteLine($"round {round + 1}/{rounds}: genai {a:F1}, ours {b:F1} tok/s (×{b / a:F2})");
    }
    static double Median(List<double> v) { var s = v.Order().ToList(); return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2; }
    Console.WriteLine($"{Path.GetFileName(Path.TrimEndingDirectorySeparator(args[0]))}, {threads} thread(s), decode {decode} after {promptLength}, {rounds} rounds: " +
        $"genai {Median(g):F1} ({g.Min():F1}–{g.Max():F1}), ours {Median(o):F1} ({o.Min():F1}–{o.Max():F1}) tok/s; " +
        $"median ratio ours/genai {Median(ratios):F2} ({ratios.Min():F2}–{ratios.Max():F2})");
    return 0;
}
finally
{
    Directory.Delete(view, recursive: true);
}
