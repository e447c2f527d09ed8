using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntimeGenAI;

// genai-bench EXPORT_DIR THREADS [DECODE_TOKENS=64] [PROMPT_TOKENS=8] [RUNS=5]
// Decode speed of onnxruntime-genai's Generator on an export, measured as `mlpipe bench` measures decode: a prompt of
// random token ids forwarded untimed, then DECODE_TOKENS greedy steps timed; the median of RUNS runs after a warm-up run.
// genai reads its intra-op thread count from genai_config.json only, so the export is viewed through a temporary
// directory of links with that one setting changed; the export itself is left as it is.
if (args.Length < 2 || !Directory.Exists(args[0]) || !int.TryParse(args[1], out int threads) || threads < 1)
{
    Console.Error.WriteLine("usage: genai-bench EXPORT_DIR THREADS [DECODE_TOKENS=64] [PROMPT_TOKENS=8] [RUNS=5]");
    return 2;
}
int decode = args.Length > 2 ? int.Parse(args[2]) : 64;
int promptLength = args.Length > 3 ? int.Parse(args[3]) : 8;
int runs = args.Length > 4 ? int.Parse(args[4]) : 5;

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

    using var model = new Model(view);
    var random = new Random(1234);
    int vocab = config["model"]!["vocab_size"]!.GetValue<int>();
    var times = new List<double>();
    for (int run = -1; run < runs; run++)   // run −1 warms up
    {
        int[] prompt = Enumerable.Range(0, promptLength).Select(_ => random.Next(3, vocab)).ToArray();
        using var options = new GeneratorParams(model);
        options.SetSearchOption("max_length", promptLength + decode);
        options.SetSearchOption("min_length", promptLength + decode);   // no early stop at an end id
        options.SetSearchOption("do_sample", false);
        using var generator = new Generator(model, options);
        generator.AppendTokens(prompt);
        var clock = Stopwatch.StartNew();
        int steps = 0;
        while (!generator.IsDone() && steps < decode)
        {
            generator.GenerateNextToken();
            steps++;
        }
        double tokensPerSecond = steps / clock.Elapsed.TotalSeconds;
        if (run >= 0) times.Add(tokensPerSecond);
        Console.Error.WriteLine($"genai-bench: run {run + 1}/{runs} ×{threads}: decode {tokensPerSecond:F1} tok/s ({steps} tokens)");
    }
    times.Sort();
    Console.WriteLine($"genai decode tok/s, {threads} thread(s): median {times[times.Count / 2]:F1} (min {times[0]:F1}, max {times[^1]:F1})");
    return 0;
}
finally
{
    Directory.Delete(view, recursive: true);
}
