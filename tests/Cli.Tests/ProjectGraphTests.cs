using System.Xml.Linq;
using MlPipelines.Tests.Support;

namespace MlPipelines.Cli.Tests;

/// <summary>
/// The project references and third-party packages are those docs/architecture.md draws: dependencies point one way,
/// only Pipelines takes ML.NET, the ONNX Runtime engine builds without it, and ManagedEngine takes neither.
/// </summary>
public class ProjectGraphTests
{
    private static readonly Dictionary<string, string[]> Expected = new()
    {
        ["ManagedEngine"] = ["ChatTemplates"],
        ["ChatTemplates"] = [],
        ["Exporter"] = ["ManagedEngine"],
        ["OnnxEngine"] = ["Exporter", "ManagedEngine"],
        ["Pipelines"] = ["OnnxEngine"],
        ["Jobs"] = ["OnnxEngine"],
        ["Hub"] = ["ManagedEngine"],
        ["AI"] = ["OnnxEngine"],
        ["Server"] = ["AI"],
        ["Cluster"] = ["Jobs"],
        ["Cli"] = ["Cluster", "Hub", "Jobs", "Pipelines", "Server"],
    };

    private static string SrcProject(string name) => Path.Combine(TestPaths.RepoRoot, "src", name, name + ".csproj");

    private static IEnumerable<string> Items(string project, string item) =>
        XDocument.Load(project).Descendants(item).Select(e => (string?)e.Attribute("Include") ?? "");

    private static string[] ProjectReferences(string name) =>
        Items(SrcProject(name), "ProjectReference").Select(r => Path.GetFileNameWithoutExtension(r.Replace('\\', '/'))).Order().ToArray();

    [Fact]
    public void Every_source_project_is_in_the_graph_and_references_what_it_shows()
    {
        var onDisk = Directory.GetDirectories(Path.Combine(TestPaths.RepoRoot, "src")).Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(Expected.Keys.Order().ToArray(), onDisk);
        foreach (var (project, references) in Expected)
            Assert.True(references.Order().SequenceEqual(ProjectReferences(project)),
                $"{project} references {string.Join(", ", ProjectReferences(project))}; docs/architecture.md shows {string.Join(", ", references)}");
    }

    [Fact]
    public void Only_Pipelines_takes_MLNET_and_ManagedEngine_takes_neither_MLNET_nor_ONNX_Runtime()
    {
        foreach (string project in Expected.Keys)
        {
            string[] packages = Items(SrcProject(project), "PackageReference").ToArray();
            bool mlnet = packages.Contains("Microsoft.ML");
            Assert.True(mlnet == (project == "Pipelines"), $"{project}: Microsoft.ML {(mlnet ? "referenced" : "missing")}");
            bool ort = packages.Any(p => p.Contains("OnnxRuntime", StringComparison.Ordinal));
            Assert.True(ort == (project == "OnnxEngine"), $"{project}: ONNX Runtime {(ort ? "referenced" : "missing")}");
        }
    }

    [Fact]
    public void The_architecture_page_names_every_project()
    {
        string page = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "architecture.md"));
        foreach (string project in Expected.Keys)
            Assert.Contains($"`src/{project}`", page);
    }

    [Fact]
    public void Each_source_project_has_one_test_project()
    {
        foreach (string project in Expected.Keys)
            Assert.True(File.Exists(Path.Combine(TestPaths.RepoRoot, "tests", project + ".Tests", project + ".Tests.csproj")), $"no tests/{project}.Tests");
    }
}
