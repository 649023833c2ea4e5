using System.Text.Json.Nodes;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Experiments.Sweeps;

namespace Iwae.Tests.Experiments.Sweeps;

/// <summary>
/// sweep.json read back: every field of every run is checked before anything runs, and a hand-edited or corrupt file
/// is one line naming the file, the run and the field, without .NET's type names.
/// </summary>
public class SweepPlanValidationTests
{
    private const string Source = "/s/sweep.json";

    /// <summary>A valid two-run plan as JSON, changed by <paramref name="edit"/>.</summary>
    private static string Edited(Action<JsonNode> edit)
    {
        var baseline = new SweepRunOptions
        {
            Config = new ModelConfig { Hidden = [8], Latent = 2, K = 4 },
            Train = new TrainOptions { Epochs = 1 },
            EvalK = 10,
        };
        var node = JsonNode.Parse(SweepPlanner.Grid(baseline, "seed=1,2").ToJson())!;
        edit(node);
        return node.ToJsonString();
    }

    private static JsonNode Run1(JsonNode plan) => plan["runs"]![1]!;

    private static IEnumerable<TestCaseData> Corrupt()
    {
        TestCaseData C(string name, Action<JsonNode> edit, params string[] says) => new TestCaseData(edit, says).SetName($"Corrupt_{name}");
        yield return C("EvalKZero", p => Run1(p)["options"]!["eval_k"] = 0, "run 1 (s2)", "options.eval_k must be from 1 to 1000000, got 0");
        yield return C("TestFraction", p => Run1(p)["options"]!["test_fraction"] = 1.5, "run 1 (s2)", "options.test_fraction");
        yield return C("KZero", p => Run1(p)["options"]!["config"]!["k"] = 0, "run 1 (s2)", "options.config: k must be from 1 to 100000, got 0");
        yield return C("Stages", p => Run1(p)["options"]!["train"]!["stages"] = 0, "run 1 (s2)", "options.train: stages must be from 1 to 12, got 0");
        yield return C("StagesHuge", p => Run1(p)["options"]!["train"]!["stages"] = int.MaxValue, "run 1 (s2)", "options.train: stages must be from 1 to 12, got 2147483647");
        yield return C("InputSizeHuge", p => Run1(p)["options"]!["config"]!["input_size"] = int.MaxValue, "run 1 (s2)", "options.config: input_size must be from 1 to 16777216");
        yield return C("GroupsNotDividingK", p => { Run1(p)["options"]!["train"]!["estimator"] = "miwae"; Run1(p)["options"]!["train"]!["groups"] = 3; },
            "run 1 (s2)", "options.train:", "3");
        yield return C("EstimatorForVae", p => { Run1(p)["options"]!["config"]!["model"] = "vae"; Run1(p)["options"]!["train"]!["estimator"] = "dreg"; },
            "run 1 (s2)", "options.train: estimator dreg applies to the iwae model only");
        yield return C("EmptyData", p => Run1(p)["options"]!["data"] = "  ", "run 1 (s2)", "options.data");
        yield return C("DuplicateName", p => Run1(p)["name"] = "s1", "run 1", "'s1' is run 0's too");
        yield return C("NegativeIndex", p => Run1(p)["index"] = -1, "runs[1]: index is -1, not 1");
        yield return C("NameWithSlash", p => Run1(p)["name"] = "../x", "run 1: name '../x' is not a plain folder name");
        yield return C("NullRun", p => p["runs"]![1] = null, "runs[1] is null");
        yield return C("NoRuns", p => p["runs"] = new JsonArray(), "runs: a sweep needs at least one run");
        yield return C("MissingOptions", p => Run1(p).AsObject().Remove("options"), "runs[1]", "missing", "options");
        yield return C("MissingConfig", p => Run1(p)["options"]!.AsObject().Remove("config"), "runs[1].options", "missing", "config");
        yield return C("MissingName", p => Run1(p).AsObject().Remove("name"), "runs[1]", "missing", "name");
        yield return C("WrongType", p => Run1(p)["options"]!["eval_k"] = "ten", "runs[1].options.eval_k: a value of the wrong type");
        yield return C("UnknownModel", p => Run1(p)["options"]!["config"]!["model"] = "gan", "runs[1].options.config.model: a value of the wrong type");
        yield return C("RunsNotAList", p => p["runs"] = 3, "runs: a value of the wrong type");
        yield return C("Format", p => p["format"] = "iwae.net/sweep/9", "format 'iwae.net/sweep/9' is not iwae.net/sweep/1");
    }

    [TestCaseSource(nameof(Corrupt))]
    public void AHandEditedField_IsOneLineNamingTheRunAndTheField(Action<JsonNode> edit, string[] says)
    {
        var e = Assert.Throws<InvalidDataException>(() => SweepPlan.Parse(Edited(edit), Source))!;
        TestContext.Out.WriteLine(e.Message);
        Assert.That(e.Message, Does.StartWith(Source + ": "));
        foreach (var s in says) Assert.That(e.Message, Does.Contain(s));
        Assert.That(e.Message, Does.Not.Contain("\n").And.Not.Contain("System.").And.Not.Contain("Iwae.Core").And.Not.Contain("(Parameter"));
    }

    [TestCase("{", "not JSON")]
    [TestCase("", "not JSON")]
    [TestCase("[1, 2]", "a value of the wrong type")]
    [TestCase("{\"format\": \"iwae.net/sweep/1\"}", "missing", "runs")]
    [TestCase("null", "")]
    public void NotASweepAtAll_IsOneLineNamingTheFile(string json, params string[] says)
    {
        var e = Assert.Throws<InvalidDataException>(() => SweepPlan.Parse(json, Source))!;
        TestContext.Out.WriteLine(e.Message);
        Assert.That(e.Message, Does.StartWith(Source + ": not a valid sweep.json"));
        foreach (var s in says) Assert.That(e.Message, Does.Contain(s));
        Assert.That(e.Message, Does.Not.Contain("\n").And.Not.Contain("System.").And.Not.Contain("Iwae.Core"));
    }

    [Test]
    public void AValidPlan_ReadsBack()
        => Assert.That(SweepPlan.Parse(Edited(_ => { }), Source).Runs.Select(r => r.Name), Is.EqualTo(new[] { "s1", "s2" }));
}
