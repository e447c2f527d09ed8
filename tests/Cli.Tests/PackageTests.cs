using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Xml.Linq;
using MlPipelines.Tests.Support;

namespace MlPipelines.Cli.Tests;

/// <summary>
/// The packages as a user gets them: <c>dotnet pack</c> of the solution into a local feed, every library's package with
/// its XML docs, README and symbols, and <c>mlpipe</c> installed from that feed as a .NET tool, generating with the
/// model it ships from a folder that has none. Slow (a Release build of every project, about a minute), and still run
/// in CI: it is the only test of what users install. One pack, one install.
/// </summary>
public class PackageTests
{
    private static readonly string[] Libraries =
        ["ManagedEngine", "ChatTemplates", "Exporter", "OnnxEngine", "Pipelines", "Jobs", "Hub", "AI", "Server"];

    [Fact]
    public void The_solution_packs_and_the_installed_tool_generates_with_its_shipped_model()
    {
        using var dir = new TempDir();
        string feed = Path.Combine(dir.Path, "feed");
        string version = PackageVersion();

        Run("dotnet", TestPaths.RepoRoot, "pack", Path.Combine(TestPaths.RepoRoot, "MlPipelines.sln"), "-c", "Release", "-o", feed, "-nodeReuse:false");

        foreach (string library in Libraries)
        {
            string id = "MlPipelines." + library;
            string package = Path.Combine(feed, $"{id}.{version}.nupkg");
            Assert.True(File.Exists(package), $"no {Path.GetFileName(package)} in the feed");
            Assert.True(File.Exists(Path.ChangeExtension(package, ".snupkg")), $"no symbols package beside {Path.GetFileName(package)}");
            using var zip = ZipFile.OpenRead(package);
            string[] entries = zip.Entries.Select(e => e.FullName).ToArray();
            Assert.Contains($"lib/net10.0/{id}.dll", entries);
            Assert.Contains($"lib/net10.0/{id}.xml", entries);
            Assert.Contains("README.md", entries);
        }
        Assert.True(File.Exists(Path.Combine(feed, $"MlPipelines.Cli.{version}.nupkg")), "no tool package in the feed");

        // Only the local feed: the install proves the package stands alone, and needs no network.
        string config = Path.Combine(dir.Path, "nuget.config");
        File.WriteAllText(config,
            $"""<?xml version="1.0" encoding="utf-8"?><configuration><packageSources><clear /><add key="local" value="{feed}" /></packageSources></configuration>""");
        string tools = Path.Combine(dir.Path, "tools");
        Run("dotnet", dir.Path, "tool", "install", "MlPipelines.Cli", "--tool-path", tools, "--configfile", config, "--version", version);

        // From a folder with no models/ beside it, so the default model is the one the tool ships.
        string empty = Directory.CreateDirectory(Path.Combine(dir.Path, "elsewhere")).FullName;
        string[] args = ["generate", "-n", "16", "-t", "0", "-s", "1"];
        string installed = Run(Path.Combine(tools, OperatingSystem.IsWindows() ? "mlpipe.exe" : "mlpipe"), empty, args);

        var reference = CliRunner.Run(args);
        Assert.Equal(0, reference.ExitCode);
        Assert.False(string.IsNullOrWhiteSpace(reference.Stdout));
        Assert.Equal(reference.Stdout, installed);
    }

    /// <summary>The version src/Directory.Build.props gives every package.</summary>
    private static string PackageVersion() =>
        XDocument.Load(Path.Combine(TestPaths.RepoRoot, "src", "Directory.Build.props")).Descendants("Version").Single().Value;

    /// <summary>Runs a program to completion and returns its standard output; a failure shows what it printed.</summary>
    private static string Run(string program, string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (string a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish in 10 minutes");
        }
        Assert.True(process.ExitCode == 0,
            $"{Path.GetFileName(program)} {string.Join(' ', args)} exited with {process.ExitCode}\n{stdout}\n{stderr.Result}");
        return stdout;
    }
}
