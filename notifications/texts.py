"""What each message says, in Simplified Chinese and English.

Case messages: plain ``str.format`` templates, both languages side by side; messages
are plain text (email, in-app), and the values come from our own records, formatted
here rather than by the recipient.

Account mails (``ACCOUNT_TEXTS``): the message catalogue (``locale/zh_Hans``), like the
account pages they come from; ``account_render`` formats them in the reader's language.
"""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext_lazy as _

TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    "accepted": {
        "zh-hans": (
            "【{kind_zh}】案件 {reference} 已受理",
            "您提交的{kind_zh}申请（案件编号 {reference}，{subject_name}）已由{agency}受理。\n"
            "办理期限：{deadline}（{deadline_days} 个工作日）{deadline_note_zh}。\n查看进度：{url}",
        ),
        "en": (
            "[Redress] Case {reference} accepted",
            "Your {kind_en} request (case {reference}, {subject_name}) was accepted by {agency_en}.\n"
            "Decision due by {deadline} ({deadline_days} working days){deadline_note_en}.\n"
            "Follow it at {url}",
        ),
    },
    "materials_requested": {
        "zh-hans": (
            "【{kind_zh}】案件 {reference} 需补正材料",
            "{agency}请您一次性补正以下材料：\n{missing}\n"
            "请于 {deadline}{deadline_note_zh} 前提交；补正期间办理期限中止。逾期未补正的，申请将视为撤回。\n{url}",
        ),
        "en": (
            "[Redress] Case {reference}: materials missing",
            "{agency_en} asks for the following materials, all at once:\n{missing}\n"
            "Supply them by {deadline}{deadline_note_en}. The case's clock is stopped until then; without them "
            "the request lapses.\n{url}",
        ),
    },
    "materials_reminder": {
        "zh-hans": (
            "【{kind_zh}】案件 {reference} 补正期限即将届满",
            "请于 {deadline} 前补正材料：\n{missing}\n{url}",
        ),
        "en": (
            "[Redress] Case {reference}: materials due on {deadline}",
            "Please supply the missing materials by {deadline}:\n{missing}\n{url}",
        ),
    },
    "monitoring_notified": {
        "zh-hans": (
            "【{kind_zh}】案件 {reference}：电子技术监控设备记录的违法事实告知",
            "{agency}在案件 {reference} 中采用了电子技术监控设备（编号 {device}，设置地点：{location}；"
            "法制和技术审核：{approval_ref}，{approval_on}）记录的事实作为证据。\n"
            "根据《中华人民共和国行政处罚法》第四十一条、第四十五条，您有权查询、陈述和申辩。"
            "请于 {statement_due} 前（{statement_days} 个工作日）在案件页面提交陈述、申辩意见，"
            "或明确放弃。期限届满前，本机关不依据该证据作出决定。\n{url}",
        ),
        "en": (
            "[Redress] Case {reference}: evidence from electronic monitoring",
            "{agency_en} relies in case {reference} on facts recorded by an electronic monitoring "
            "device ({device}, at {location}; legal and technical approval {approval_ref} of "
            "{approval_on}).\nUnder Articles 41 and 45 of the Administrative Penalties Law you "
            "may check it, state your case and defend. Send your statement on the case page by "
            "{statement_due} ({statement_days} working days), or say that you waive it. No "
            "decision relies on this evidence before then.\n{url}",
        ),
    },
    "not_accepted": {
        "zh-hans": ("【{kind_zh}】案件 {reference} 不予受理", "不予受理理由：{reasons}\n{url}"),
        "en": ("[Redress] Case {reference} not accepted", "Reasons: {reasons}\n{url}"),
    },
    "lapsed": {
        "zh-hans": (
            "【{kind_zh}】案件 {reference} 已终止",
            "因未在 {deadline} 前补正材料，申请已终止。您可以重新提出申请。\n{url}",
        ),
        "en": (
            "[Redress] Case {reference} lapsed",
            "The missing materials did not arrive by {deadline}; the request has lapsed. "
            "You may apply again.\n{url}",
        ),
    },
    "withdrawn": {
        "zh-hans": ("【{kind_zh}】案件 {reference} 已撤回", "您已撤回申请。\n{url}"),
        "en": ("[Redress] Case {reference} withdrawn", "You withdrew the request.\n{url}"),
    },
    "decided": {
        "zh-hans": (
            "【{kind_zh}】案件 {reference} 已作出决定：{decision_zh}",
            "{agency}对您的{kind_zh}申请作出决定：{decision_zh}。\n{reasons}\n"
            "如不服，可在 60 日内申请行政复议，或在 6 个月内提起行政诉讼。\n{url}",
        ),
        "en": (
            "[Redress] Case {reference} decided: {decision_en}",
            "{agency_en} decided on your {kind_en} request: {decision_en}.\n{reasons}\n"
            "You may apply for administrative reconsideration within 60 days or sue within "
            "6 months.\n{url}",
        ),
    },
    "removal_done": {
        "zh-hans": (
            "【{kind_zh}】{platform} 已撤下相关信息",
            "{platform} 已确认撤下案件 {reference} 涉及的记录 {record}。\n{url}",
        ),
        "en": (
            "[Redress] {platform_en} withdrew the record",
            "{platform_en} confirmed it withdrew record {record} (case {reference}).\n{url}",
        ),
    },
    "revoked": {
        "zh-hans": (
            "【{kind_zh}】案件 {reference} 的信用修复已撤销",
            "因{reasons}，{agency}撤销了信用修复决定，相关信息将重新公示。\n{url}",
        ),
        "en": (
            "[Redress] Restoration in case {reference} revoked",
            "{agency_en} revoked the restoration ({reasons}); the record is published again.\n{url}",
        ),
    },
    # An appeal's outcome (行政复议法、行政诉讼法; 行政处罚法第四十八条 for what follows).
    "appeal_decided": {
        "zh-hans": (
            "【{kind_zh}】案件 {reference} 的{appeal_zh}已有结果：{outcome_zh}",
            "{appeal_zh}已于 {decided_on} 作出结果：{outcome_zh}。{effect_zh}\n{url}",
        ),
        "en": (
            "[Redress] Case {reference}: outcome of the {appeal_en}",
            "The {appeal_en} against the decision in case {reference} was decided on "
            "{decided_on}: {outcome_en}. {effect_en}\n{url}",
        ),
    },
    # Publication ended at its maximum period (《信用修复管理办法》第十二条): no case needed.
    "publication_expired": {
        "zh-hans": (
            "【信用修复】{record} 已于 {ended_on} 自动停止公示",
            "{subject_name} 的失信信息（{list_type}，决定文书号 {record}，{agency}）最长公示期已于 "
            "{expires_on} 届满。依据{article_zh}，该信息自 {ended_on} 起自动停止公示，"
            "已通知 {platforms} 撤下。\n{url}",
        ),
        "en": (
            "[Redress] Publication of {record} ended on {ended_on}",
            "The maximum publication period of the record of {subject_name} ({list_type_en}, "
            "decision {record}, {agency_en}) ended on {expires_on}. Under {article_en}, its "
            "publication ended by itself on {ended_on}; {platforms_en} were asked to withdraw "
            "it.\n{url}",
        ),
    },
    "shield_done": {
        "zh-hans": (
            "【{kind_zh}】{platform} 已临时屏蔽相关信息",
            "{platform} 已确认临时屏蔽案件 {reference} 涉及的记录 {record}（重整计划或和解协议执行期间）。\n{url}",
        ),
        "en": (
            "[Redress] {platform_en} shielded the record",
            "{platform_en} confirmed it temporarily shielded record {record} (case {reference}) "
            "while the plan is carried out.\n{url}",
        ),
    },
    "plan_failed": {
        "zh-hans": (
            "【{kind_zh}】案件 {reference}：重整计划或和解协议未执行成功",
            "根据人民法院裁定（{reasons}），{agency}恢复公示临时屏蔽的信息，临时解除的措施恢复执行。\n{url}",
        ),
        "en": (
            "[Redress] Case {reference}: the plan was not carried out",
            "Following the court's ruling ({reasons}), {agency_en} publishes the shielded "
            "records again and the measures lifted apply again.\n{url}",
        ),
    },
    "escalation": {
        "zh-hans": (
            "【督办】案件 {reference} {step}期限{state}",
            "案件 {reference}（{subject_name}）的“{step}”期限为 {deadline}，{state}。请督办。\n{url}",
        ),
        "en": (
            "[Redress] Case {reference}: {step} deadline {state_en}",
            "Case {reference} ({subject_name}): the {step} deadline is {deadline} and is "
            "{state_en}. Please follow up.\n{url}",
        ),
    },
    "daily_digest": {
        "zh-hans": (
            "【每日待办】{count} 项任务，其中 {overdue} 项已逾期",
            "您今天的待办任务：\n{lines}\n{url}",
        ),
        "en": (
            "[Redress] {count} tasks today, {overdue} overdue",
            "Your tasks today:\n{lines}\n{url}",
        ),
    },
    # The supervisors' morning forecast (workflows.forecast): cases likely to miss a
    # deadline in the next ten working days, each with the reason.
    "breach_forecast": {
        "zh-hans": (
            "【超期预测】未来十个工作日内 {count} 件案件可能超期",
            "以下案件按当前排队和处理速度预计将超过办理期限：\n{lines}\n{url}",
        ),
        "en": (
            "[Redress] {count} cases forecast to miss a deadline in the next 10 working days",
            "At the current queues and throughput these cases are likely to miss their "
            "deadline:\n{lines}\n{url}",
        ),
    },
}

# After a date counted in a year whose State Council holiday schedule is not loaded yet.
PROVISIONAL_NOTE_ZH = "（暂定，待国务院公布该年度节假日安排后确认）"
PROVISIONAL_NOTE_EN = (
    " (provisional: to be confirmed once the State Council publishes that year's holidays)"
)

KIND_ZH = {"objection": "异议", "restoration": "信用修复", "reorganisation": "临时信用修复"}
KIND_EN = {
    "objection": "objection",
    "restoration": "credit restoration",
    "reorganisation": "temporary credit restoration",
}
DECISION_ZH = {"approved": "准予", "partly_approved": "部分准予", "rejected": "不予准许"}
DECISION_EN = {"approved": "approved", "partly_approved": "partly approved", "rejected": "rejected"}

APPEAL_KIND_ZH = {
    "reconsideration": "行政复议",
    "suit": "行政诉讼",
    "higher_court": "向上一级人民法院申请的复议",
}
APPEAL_KIND_EN = {
    "reconsideration": "administrative reconsideration",
    "suit": "administrative suit",
    "higher_court": "reconsideration by the higher court",
}
APPEAL_OUTCOME_ZH = {
    "upheld": "维持原决定",
    "revoked": "撤销原决定",
    "changed": "变更原决定",
    "unlawful": "确认原决定违法或者无效",
    "withdrawn": "申请已撤回",
    "dismissed": "驳回",
}
APPEAL_OUTCOME_EN = {
    "upheld": "the decision is upheld",
    "revoked": "the decision is revoked",
    "changed": "the decision is changed",
    "unlawful": "the decision is confirmed unlawful or void",
    "withdrawn": "the appeal was withdrawn",
    "dismissed": "the appeal was dismissed",
}
# What follows on the platforms (《中华人民共和国行政处罚法》第四十八条: within 3 working days).
APPEAL_EFFECT_ZH = {
    "withdrawn": "相关公示信息将在 3 个工作日内撤下（《中华人民共和国行政处罚法》第四十八条）。",
    "republished": "原决定撤下或更正的信息将在 3 个工作日内恢复公示"
    "（《中华人民共和国行政处罚法》第四十八条）。",
    "unchanged": "公示信息不变。",
    "republished_named": "变更所涉信息（{records}）将在 3 个工作日内恢复公示，其余信息仍不公示"
    "（《中华人民共和国行政处罚法》第四十八条）。",
    "withdrawn_named": "变更所涉信息（{records}）将在 3 个工作日内撤下，其余信息不变"
    "（《中华人民共和国行政处罚法》第四十八条）。",
}
APPEAL_EFFECT_EN = {
    "withdrawn": "The published information is withdrawn within 3 working days "
    "(Administrative Penalties Law, Art. 48).",
    "republished": "The information the decision withdrew or corrected is published again as "
    "it was within 3 working days (Administrative Penalties Law, Art. 48).",
    "unchanged": "What is published does not change.",
    "republished_named": "The records the change concerns ({records}) are published again as "
    "they were within 3 working days; the others stay withdrawn (Administrative Penalties "
    "Law, Art. 48).",
    "withdrawn_named": "The records the change concerns ({records}) are withdrawn within 3 "
    "working days; the others stay as they are (Administrative Penalties Law, Art. 48).",
}
# What follows when a refusal is revoked or voided: the agency decides again
# (《中华人民共和国行政复议法》第六十四条、《中华人民共和国行政诉讼法》第七十条).
APPEAL_FOLLOWS_ZH = "原不予准许的决定不再有效，本机关将依法重新作出决定。"
APPEAL_FOLLOWS_EN = "The refusal no longer stands: the agency decides the application again."


def render(kind: str, language: str, **context) -> tuple[str, str]:
    """(subject, body) of a message of ``kind`` in ``language`` (English when unknown)."""
    texts = TEXTS[kind]
    subject, body = texts.get(language) or texts["en"]
    return subject.format(**context), body.format(**context)


# --- mails about a person's account (no case) ------------------------------------------------
# Keyed by the account event that calls for them (``cases.accounts.AccountEvent``).

ACCOUNT_TEXTS = {
    "email_verification_requested": (
        _("Redress: confirm your e-mail address"),
        _(
            "Hello %(username)s,\n\n"
            "follow this link within two days to activate your Redress account:\n\n"
            "%(link)s\n\n"
            "If you did not sign up, ignore this mail: the account stays inactive."
        ),
    ),
    "organisation_invitation_sent": (
        _("Redress: %(name)s invites you to its company account"),
        _(
            "%(inviter)s invites you to act for %(name)s (%(code)s) in Redress.\n\n"
            "Sign up or sign in with this e-mail address (%(email)s), then follow this link "
            "within seven days to accept:\n\n%(link)s\n"
        ),
    ),
    "organisation_member_removed": (
        _("Redress: you no longer act for %(name)s"),
        _(
            "%(by)s removed you from the company account of %(name)s (%(code)s) in Redress "
            "on %(date)s. You no longer see its records and cases.\n\n"
            "If this is a mistake, ask a colleague there to invite you again.\n"
        ),
    ),
}


def account_render(kind: str, language: str, **context) -> tuple[str, str]:
    """(subject, body) of the account mail of ``kind`` in ``language``."""
    subject, body = ACCOUNT_TEXTS[kind]
    with translation.override(language):
        return str(subject) % context, str(body) % context
