using System.Numerics;
using Iwae.Autodiff;
using Iwae.Core.Models;

namespace Iwae.Core.Estimators;

/// <summary>
/// An estimator that splits the k = M K samples per input into M groups of K (MIWAE and PIWAE, Rainforth et al. 2018):
/// it holds M, checks M &gt;= 1 when built and that M divides k when validated.
/// </summary>
public abstract class GroupedEstimator<T> : Estimator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>M, the number of groups; it must divide k.</summary>
    public int Groups { get; }

    /// <summary>An estimator with <paramref name="groups"/> groups.</summary>
    protected GroupedEstimator(int groups)
    {
        Groups = Limits.Groups.Check(groups);
    }

    /// <inheritdoc />
    public override void Validate(ModelConfig config)
    {
        base.Validate(config);
        if (config.K % Groups != 0) throw new SettingException("groups", $"must divide k ({config.K}) for {Name}, got {Groups}");
    }
}
