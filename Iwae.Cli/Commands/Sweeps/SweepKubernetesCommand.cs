using System.CommandLine;
using Iwae.Core;
using Iwae.Experiments.Sweeps;
using static Iwae.Cli.Commands.Sweeps.SweepCommand;

namespace Iwae.Cli.Commands.Sweeps;

/// <summary>`iwae sweep k8s`: the sweep as a Kubernetes Indexed Job (<see cref="KubernetesManifest"/>).</summary>
internal static class SweepKubernetesCommand
{
    private static readonly Option<string?> Image = new("--image") { Description = "The container image holding the iwae tool (Kubernetes)." };
    private static readonly Option<string?> Claim = new("--claim") { Description = "The PersistentVolumeClaim that holds the sweep folder (Kubernetes)." };
    private static readonly Option<int?> K8sParallelism = new("--parallelism") { Description = "Pods at once (default: min(runs, 8))." };
    private static readonly Option<string> Memory = new("--memory") { Description = "Memory per pod.", DefaultValueFactory = _ => "2Gi" };
    private static readonly Option<string> Mount = new("--mount") { Description = "Where the pods see the sweep folder.", DefaultValueFactory = _ => "/sweep" };
    private static readonly Option<string?> SubPath = new("--sub-path") { Description = "The sweep folder's path inside the claim, if not its root." };
    private static readonly Option<string> Launch = new("--command") { Description = "How the image starts iwae, e.g. \"dotnet /opt/iwae/iwae.dll\".", DefaultValueFactory = _ => "iwae" };

    public static Command Create(CliIo io)
    {
        var cmd = new Command("k8s", "Write SWEEP/k8s-job.json: a Kubernetes Indexed Job (completions = runs; each pod runs `sweep run` on its JOB_COMPLETION_INDEX, the sweep folder on a volume). Apply it with `kubectl apply -f SWEEP/k8s-job.json`.");
        cmd.Arguments.Add(Folder);
        cmd.With(Image, Claim, K8sParallelism, Cpus, Memory, Mount, SubPath, Launch);
        cmd.SetAction(p => io.Guard(p, () =>
        {
            var sweep = new SweepFolder(p.GetValue(Folder)!);
            var plan = sweep.ReadPlan();
            string image = p.GetValue(Image) ?? throw new ArgumentException("--image: give the container image that holds the iwae tool");
            string claim = p.GetValue(Claim) ?? throw new ArgumentException("--claim: give the PersistentVolumeClaim that holds the sweep folder");
            string json = KubernetesManifest.Build(new KubernetesOptions
            {
                Name = KubernetesManifest.NameFor(sweep.Path), Runs = plan.Runs.Count, Parallelism = p.GetValue(K8sParallelism), Image = image,
                ClaimName = claim, CpusPerTask = p.GetValue(Cpus), Memory = p.GetValue(Memory)!, SweepMountPath = p.GetValue(Mount)!,
                SubPath = p.GetValue(SubPath), Command = p.GetValue(Launch)!.Split(' ', StringSplitOptions.RemoveEmptyEntries),
            });
            string path = sweep.File(SweepFolder.KubernetesFile);
            AtomicFile.WriteAllText(path, json);
            io.Out.WriteLine($"k8s: {path} ({plan.Runs.Count} completions); apply with: kubectl apply -f {path}");
            return 0;
        }));
        return cmd;
    }
}
