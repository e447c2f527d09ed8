using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Xml.Linq;
using Microsoft.Extensions.AI;
using MlPipelines.AI;
using MlPipelines.ManagedEngine.Loading;
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
        ["ManagedEngine", "ChatTemplates", "Exporter", "OnnxEngine", "Pipelines", "Jobs", "Hub", "AI", "Server", "Cluster"];

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
            using var nuspec = new StreamReader(zip.Entries.Single(e => e.FullName == $"{id}.nuspec").Open());
            Assert.Contains("<license type=\"expression\">MIT</license>", nuspec.ReadToEnd());
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

        // A user's project over the library packages, from the same feed, gives what the libraries give here.
        string consumer = BuildPackageConsumer(dir.Path, feed, version);
        string model = Path.Combine(TestPaths.Models, "stories260K");
        string printed = Run("dotnet", empty, consumer, model);
        Assert.Equal(PackageConsumerReference(model).ReplaceLineEndings(), printed.ReplaceLineEndings());
    }

    /// <summary>
    /// Copies samples/PackageConsumer outside the repository (so none of its build settings apply) and builds it
    /// against <paramref name="feed"/>. The MlPipelines packages restore into a fresh packages folder, so a package
    /// of the same version cached by an earlier run can never stand in for the one just packed; everything else comes
    /// from the machine's own packages folder, as a fallback, so the restore needs no network.
    /// </summary>
    private static string BuildPackageConsumer(string workDir, string feed, string version)
    {
        string app = Directory.CreateDirectory(Path.Combine(workDir, "consumer")).FullName;
        foreach (string file in new[] { "PackageConsumer.csproj", "Program.cs" })
            File.Copy(Path.Combine(TestPaths.RepoRoot, "samples", "PackageConsumer", file), Path.Combine(app, file));
        string machinePackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        File.WriteAllText(Path.Combine(app, "nuget.config"),
            $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config><add key="globalPackagesFolder" value="{Path.Combine(workDir, "packages")}" /></config>
              <packageSources><clear /><add key="local" value="{feed}" /></packageSources>
              <fallbackPackageFolders><clear /><add key="machine" value="{machinePackages}" /></fallbackPackageFolders>
            </configuration>
            """);
        string output = Path.Combine(workDir, "consumer-bin");
        Run("dotnet", app, "build", "-c", "Release", "-o", output, $"-p:MlPipelinesVersion={version}", "-nodeReuse:false");
        return Path.Combine(output, "PackageConsumer.dll");
    }

    /// <summary>What samples/PackageConsumer prints, computed here through the project references.</summary>
    private static string PackageConsumerReference(string model)
    {
        const string prompt = "Once upon a time";
        var lines = new StringBuilder();
        using (IChatClient chat = LlamaChatClient.Open(model))
        {
            ChatResponse reply = chat.GetResponseAsync(prompt, new ChatOptions { Temperature = 0f, MaxOutputTokens = 24 }).GetAwaiter().GetResult();
            Assert.False(string.IsNullOrWhiteSpace(reply.Text));
            lines.AppendLine($"chat: {reply.Text.ReplaceLineEndings(" ")}");
        }
        using (var embedder = LlamaEmbeddingGenerator.Open(model))
        {
            float[] vector = embedder.GenerateAsync([prompt]).GetAwaiter().GetResult()[0].Vector.ToArray();
            lines.AppendLine($"embedding: {vector.Length} {string.Join(' ', vector.Take(4).Select(v => v.ToString("R")))}");
        }
        var tokenizer = ManagedModelLoader.LoadTokenizer(null, model);
        lines.AppendLine($"tokens: {string.Join(',', tokenizer.Encode(prompt, addBos: true, addEos: false))}");
        return lines.ToString();
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
