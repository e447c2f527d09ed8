using Xunit.Abstractions;

namespace MlPipelines.Cli.Tests.Kill;

/// <summary>
/// The kill test of a command that writes one output (a file or a directory) whole, replacing a previous one with
/// <c>--force</c>: an uninterrupted run gives the reference output and the command's duration; then the command is
/// killed at moments spread over that duration and over its writing, each time starting from no output or (every other time) from a
/// previous, different output. After each kill the output must be exactly the starting state or exactly the
/// reference, never anything between. Temporary files the kills leave are kept, and a final run over all of them must
/// still give the reference.
/// </summary>
internal sealed class ReplaceScenario(KillHarness harness, ITestOutputHelper log)
{
    /// <summary>Maps a file's bytes to what is compared (default: the bytes themselves).</summary>
    public Func<byte[], byte[]>? Canonical { get; init; }

    /// <param name="args">The command, with <c>--force</c> (or its equivalent) so it may replace <paramref name="previous"/>.</param>
    /// <param name="output">The output path, alone in its directory (its siblings are the command's temporary files).</param>
    /// <param name="previous">A copy of an earlier, different output to start from every other time; null: always from none.</param>
    /// <param name="kills">How many kills.</param>
    public void Run(string[] args, string output, string? previous, int kills)
    {
        string folder = Path.GetDirectoryName(output)!;
        Directory.CreateDirectory(folder);
        OutputSnapshot.Delete(output);
        KillHarness.Result first = harness.Run(args, watch: folder);
        Assert.True(first.ExitCode == 0, first.Stderr);
        OutputSnapshot reference = OutputSnapshot.Take(output, Canonical);
        Assert.True(reference.Exists);
        OutputSnapshot? old = previous is null ? null : OutputSnapshot.Take(previous, Canonical);
        if (old is not null)
            Assert.False(old.SameAs(reference), "the previous output must differ from the new one, or the test could not tell them apart");

        int keptOld = 0, none = 0, complete = 0, finishedFirst = 0;
        // Half the kills at moments spread over the whole run, half over its writing: counted from the first change in
        // the output's folder, which a kill at a random moment of a mostly start-up run would rarely hit.
        TimeSpan writing = first.Elapsed - (first.FirstChange ?? TimeSpan.Zero);
        var whole = new Queue<TimeSpan>(harness.Delays(first.Elapsed, (kills + 1) / 2));
        var whileWriting = new Queue<TimeSpan>(harness.Delays(writing, kills / 2, "writing, from the first change in the output folder"));
        for (int i = 0; i < kills; i++)
        {
            bool duringWrite = i % 4 >= 2;
            TimeSpan delay = duringWrite ? whileWriting.Dequeue() : whole.Dequeue();
            OutputSnapshot.Delete(output);
            if (previous is not null && i % 2 == 1)
                OutputSnapshot.Copy(previous, output);
            OutputSnapshot before = OutputSnapshot.Take(output, Canonical);

            if (!harness.RunAndKill(delay, args, watch: duringWrite ? folder : null))
                finishedFirst++;

            OutputSnapshot after = OutputSnapshot.Take(output, Canonical);
            if (after.SameAs(reference)) complete++;
            else if (after.SameAs(before) && before.Exists) keptOld++;
            else if (after.SameAs(before)) none++;
            else Assert.Fail($"kill {i} after {delay.TotalMilliseconds:F0} ms{(duringWrite ? " of writing" : "")} left a torn output: {after}; expected {before} or {reference}");
        }
        string[] leftovers = Directory.GetFileSystemEntries(folder).Select(Path.GetFileName).Where(n => n != Path.GetFileName(output)).ToArray()!;
        log.WriteLine($"{kills} kills: {none} left no output, {keptOld} the previous one, {complete} the complete new one " +
            $"({finishedFirst} runs had finished before the kill); leftovers: {(leftovers.Length == 0 ? "none" : string.Join(", ", leftovers))}");
        // What a kill leaves beside the output is hidden temporary files, which nothing mistakes for an output.
        Assert.All(leftovers, name => Assert.StartsWith(".", name));

        if (previous is not null)
        {
            OutputSnapshot.Delete(output);
            OutputSnapshot.Copy(previous, output);
        }
        KillHarness.Result rerun = harness.Run(args);
        Assert.True(rerun.ExitCode == 0, rerun.Stderr);
        OutputSnapshot last = OutputSnapshot.Take(output, Canonical);
        Assert.True(last.SameAs(reference), $"the rerun after the kills gave {last}, not {reference}");
    }
}
