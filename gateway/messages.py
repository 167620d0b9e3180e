"""Every sentence a person reads, in English and Chinese, in one place."""

from __future__ import annotations

from typing import Any

Lang = str

_TEXT: dict[str, dict[Lang, str]] = {
    "acked": {"en": "Acknowledged by {actor}", "zh": "已由 {actor} 认领"},
    "closed": {"en": "Closed by {actor}", "zh": "已由 {actor} 关闭"},
    "reopened": {"en": "Reopened by {actor}", "zh": "已由 {actor} 重新打开"},
    "escalated": {"en": "Escalated by {actor} to {targets}", "zh": "{actor} 已升级给 {targets}"},
    "commented": {"en": "Comment added by {actor}", "zh": "{actor} 添加了评论"},
    "snoozed": {
        "en": "Snoozed by {actor} until {until}",
        "zh": "{actor} 已暂缓至 {until}",
    },
    "assigned": {"en": "Assigned to {targets} by {actor}", "zh": "{actor} 已分派给 {targets}"},
    "severity_changed": {
        "en": "Severity set to {severity} by {actor}",
        "zh": "{actor} 已将级别改为 {severity}",
    },
    "already_acked": {
        "en": "#{number} is already acknowledged by {who} at {at}",
        "zh": "#{number} 已由 {who} 于 {at} 认领",
    },
    "already_closed": {
        "en": "#{number} is already closed by {who} at {at}",
        "zh": "#{number} 已由 {who} 于 {at} 关闭",
    },
    "not_closed": {"en": "#{number} is not closed", "zh": "#{number} 尚未关闭"},
    "refused_closed": {
        "en": "#{number} is closed; reopen it first",
        "zh": "#{number} 已关闭，请先重新打开",
    },
    "no_next_step": {
        "en": "#{number} has no further escalation level; name a member to escalate to",
        "zh": "#{number} 没有更高的升级层级，请指定要升级给的成员",
    },
    "unknown_user": {
        "en": "Your {platform} account is not linked to an ackgate member yet. "
        "Ask an admin to map it, or link it yourself from your profile.",
        "zh": "你的 {platform} 账号尚未关联到 ackgate 成员。请联系管理员添加映射，或自行关联。",
    },
    "unknown_member": {"en": "No member named {member}", "zh": "没有名为 {member} 的成员"},
    # A member the service's ``may_act`` setting leaves out (gateway/permission.py).
    "not_allowed_team": {
        "en": "{member} can't act on #{number}: service {service} lets only its team act "
        "(the people its escalation policies and team list name) and whoever the incident "
        "paged or was assigned to",
        "zh": "{member} 无法处理 #{number}：服务 {service} 只允许其团队"
        "（升级策略和 team 列表中的成员）以及此事件呼叫或指派的人操作",
    },
    "not_allowed_responders": {
        "en": "{member} can't act on #{number}: service {service} lets only its responders act "
        "(those paged for the incident, its assignees and whoever acknowledged it)",
        "zh": "{member} 无法处理 #{number}：服务 {service} 只允许此事件的响应人操作"
        "（被呼叫的人、被指派的人和认领人）",
    },
    "bad_args": {"en": "{detail}", "zh": "{detail}"},
    "link_expired": {
        "en": "This link has expired. Ask for a new one, or open the incident from chat.",
        "zh": "此链接已过期，请重新获取，或从聊天中打开事件。",
    },
    "link_invalid": {
        "en": "This link is not valid. It may have been changed or cut short.",
        "zh": "此链接无效，可能已被修改或不完整。",
    },
    "not_found": {"en": "Incident #{number} does not exist", "zh": "事件 #{number} 不存在"},
    # --- the web pages (gateway/web/pages.py and its templates) ---
    "web_no_access": {
        "en": "Open this page from the link in your notification, or log in with an API token.",
        "zh": "请通过通知中的链接打开此页面，或使用 API 令牌登录。",
    },
    "web_title_denied": {"en": "Access denied", "zh": "无法访问"},
    "web_title_not_found": {"en": "Not found", "zh": "未找到"},
    "web_title_bad_request": {"en": "Bad request", "zh": "请求无效"},
    "web_page_not_found": {"en": "There is no such page.", "zh": "没有这个页面。"},
    "web_unknown_verb": {"en": "Unknown action: {verb}", "zh": "未知操作：{verb}"},
    "web_bad_filter": {
        "en": "Unknown {name} filter: {value}",
        "zh": "未知的{name}筛选条件：{value}",
    },
    "web_comment_empty": {"en": "Write a comment first.", "zh": "请先填写评论。"},
    "web_acting_as": {"en": "You act as {member}", "zh": "当前操作人：{member}"},
    "web_all_incidents": {"en": "All incidents", "zh": "全部事件"},
    "web_incidents": {"en": "Incidents", "zh": "事件"},
    "web_status": {"en": "Status", "zh": "状态"},
    "web_severity": {"en": "Severity", "zh": "级别"},
    "web_service": {"en": "Service", "zh": "服务"},
    "web_assignees": {"en": "Assignees", "zh": "处理人"},
    "web_escalation": {"en": "Escalation", "zh": "升级"},
    "web_link_label": {"en": "Link a chat account: code", "zh": "关联聊天账号：验证码"},
    "web_link_button": {"en": "Link", "zh": "关联"},
    "web_link_done": {
        "en": "Your {platform} account is now linked to {member}.",
        "zh": "你的 {platform} 账号已关联到 {member}。",
    },
    "link_code_bad": {
        "en": "That code is not valid (a code works once, for 15 minutes). "
        "Ask the bot for a new one.",
        "zh": "验证码无效（每个验证码只能使用一次，有效期 15 分钟）。请向机器人重新获取。",
    },
    "link_code_config": {
        "en": "That account is linked to another member in the configuration; ask an admin.",
        "zh": "该账号已在配置中关联到其他成员，请联系管理员。",
    },
    "link_code_given": {
        "en": "Your code is {code} (valid 15 minutes). Open any incident link sent to you "
        '(chat, SMS or email) and enter it under "Link a chat account".',
        "zh": "你的验证码是 {code}（15 分钟内有效）。打开发给你的任意事件链接（聊天、短信或邮件），"
        "在“关联聊天账号”处输入。",
    },
    "web_escalation_none": {"en": "no policy: nobody is paged", "zh": "无策略：不通知任何人"},
    "web_escalation_level": {
        "en": "{policy}level {level} of {levels}",
        "zh": "{policy}第 {level}/{levels} 层",
    },
    "web_escalation_waiting": {
        "en": "{policy}first page held back until {at}",
        "zh": "{policy}首次通知延迟至 {at}",
    },
    "web_escalation_next": {"en": " · next step {at}", "zh": " · 下一步 {at}"},
    "web_escalation_stopped": {"en": " · stopped", "zh": " · 已停止"},
    "web_created": {"en": "Created", "zh": "创建时间"},
    "web_description": {"en": "Description", "zh": "描述"},
    "web_alerts": {"en": "Alerts", "zh": "告警"},
    "web_timeline": {"en": "Timeline", "zh": "时间线"},
    "web_source": {"en": "Source", "zh": "来源"},
    "web_via": {"en": "via {source}", "zh": "来自 {source}"},
    "web_status_triggered": {"en": "Triggered", "zh": "已触发"},
    "web_status_acknowledged": {"en": "Acknowledged", "zh": "已认领"},
    "web_status_closed": {"en": "Closed", "zh": "已关闭"},
    "web_severity_critical": {"en": "Critical", "zh": "严重"},
    "web_severity_warning": {"en": "Warning", "zh": "警告"},
    "web_severity_info": {"en": "Info", "zh": "提示"},
    "web_alert_firing": {"en": "Firing", "zh": "告警中"},
    "web_alert_resolved": {"en": "Resolved", "zh": "已恢复"},
    "web_button_ack": {"en": "Acknowledge", "zh": "认领"},
    "web_button_close": {"en": "Close", "zh": "关闭"},
    "web_button_escalate": {"en": "Escalate", "zh": "升级"},
    "web_button_reopen": {"en": "Reopen", "zh": "重新打开"},
    "web_button_snooze": {"en": "Snooze 1 h", "zh": "暂缓 1 小时"},
    "web_button_comment": {"en": "Add comment", "zh": "添加评论"},
    "web_escalate_to": {"en": "Escalate to", "zh": "升级给"},
    "web_next_level": {"en": "the next level", "zh": "下一层级"},
    "web_comment_label": {"en": "Comment", "zh": "评论"},
    "web_kind_triggered": {"en": "Triggered", "zh": "触发"},
    "web_kind_acknowledged": {"en": "Acknowledged", "zh": "认领"},
    "web_kind_closed": {"en": "Closed", "zh": "关闭"},
    "web_kind_reopened": {"en": "Reopened", "zh": "重新打开"},
    "web_kind_escalated": {"en": "Escalated", "zh": "升级"},
    "web_kind_commented": {"en": "Comment", "zh": "评论"},
    "web_kind_snoozed": {"en": "Snoozed", "zh": "暂缓"},
    "web_kind_snooze_expired": {"en": "Snooze ended", "zh": "暂缓结束"},
    "web_kind_assigned": {"en": "Assigned", "zh": "分派"},
    "web_kind_severity_changed": {"en": "Severity changed", "zh": "级别变更"},
    "web_kind_escalation_exhausted": {"en": "No more escalation levels", "zh": "升级层级已用尽"},
    "web_kind_fallback": {"en": "Reached another way", "zh": "改用其他方式通知"},
    "web_fallback_sent": {
        "en": "{failed} to {member} failed ({error}); sent by {channel}",
        "zh": "发给 {member} 的{failed}失败（{error}），已改用{channel}",
    },
    "web_fallback_none": {
        "en": "{failed} to {member} failed ({error}); no other way to reach them",
        "zh": "发给 {member} 的{failed}失败（{error}），没有其他方式可以联系",
    },
    "web_delivery_failed_note": {"en": "{channel}: {error}", "zh": "{channel}：{error}"},
    "channel_slack": {"en": "Slack DM", "zh": "Slack 私信"},
    "channel_sms": {"en": "SMS", "zh": "短信"},
    "channel_voice": {"en": "phone call", "zh": "电话"},
    "channel_email": {"en": "email", "zh": "邮件"},
    "web_kind_paged": {"en": "Paged after the delay", "zh": "延迟结束，已通知"},
    "web_kind_reminded": {"en": "Reminded", "zh": "再次提醒"},
    "web_kind_delivery_failed": {"en": "Notice not delivered", "zh": "通知未送达"},
    "web_kind_template_failed": {
        "en": "Template failed; built-in wording used",
        "zh": "模板出错，已使用内置模板",
    },
    "web_all": {"en": "All", "zh": "全部"},
    "web_filter": {"en": "Filter", "zh": "筛选"},
    "web_no_incidents": {"en": "No incidents match.", "zh": "没有符合条件的事件。"},
    "web_page_of": {
        "en": "Page {page} of {pages} ({total} in all)",
        "zh": "第 {page}/{pages} 页（共 {total} 个）",
    },
    "web_previous": {"en": "Previous", "zh": "上一页"},
    "web_next": {"en": "Next", "zh": "下一页"},
    "web_login": {"en": "Log in", "zh": "登录"},
    "web_login_intro": {
        "en": "Paste an API token from the gateway's configuration to open the console.",
        "zh": "粘贴网关配置中的 API 令牌以打开控制台。",
    },
    "web_api_token": {"en": "API token", "zh": "API 令牌"},
    "web_login_failed": {"en": "This API token is not valid.", "zh": "此 API 令牌无效。"},
    # --- cards (cards/build.py): what a chat, SMS or email message about an incident says ---
    "card_closed_resolved": {"en": "Closed: all alerts resolved", "zh": "已关闭：告警均已恢复"},
    "card_snoozed_until": {"en": "Snoozed until {until}", "zh": "暂缓至 {until}"},
    "card_started": {"en": "Started", "zh": "开始时间"},
    "card_duration": {"en": "Duration", "zh": "持续时间"},
    "card_days": {"en": "{n}d", "zh": "{n}天"},
    "card_hours": {"en": "{n}h", "zh": "{n}小时"},
    "card_minutes": {"en": "{n}m", "zh": "{n}分钟"},
    "card_link_open": {"en": "Open incident", "zh": "打开事件"},
    "card_link_runbook": {"en": "Runbook", "zh": "处理手册"},
    "card_link_dashboard": {"en": "Dashboard", "zh": "仪表盘"},
    "card_link_panel": {"en": "Panel", "zh": "面板"},
    "card_link_source": {"en": "Source", "zh": "来源"},
    "card_entry_by": {
        "en": "{at} {actor} {kind} ({source})",
        "zh": "{at} {actor} {kind}（{source}）",
    },
    "card_entry": {"en": "{at} {kind} ({source})", "zh": "{at} {kind}（{source}）"},
    "card_kind_triggered": {"en": "triggered", "zh": "触发"},
    "card_kind_acknowledged": {"en": "acknowledged", "zh": "认领"},
    "card_kind_closed": {"en": "closed", "zh": "关闭"},
    "card_kind_reopened": {"en": "reopened", "zh": "重新打开"},
    "card_kind_escalated": {"en": "escalated", "zh": "升级"},
    "card_kind_commented": {"en": "commented", "zh": "评论"},
    "card_kind_snoozed": {"en": "snoozed", "zh": "暂缓"},
    "card_kind_snooze_expired": {"en": "snooze ended", "zh": "暂缓结束"},
    "card_kind_assigned": {"en": "assigned", "zh": "分派"},
    "card_kind_severity_changed": {"en": "changed severity", "zh": "修改级别"},
    "card_kind_escalation_exhausted": {"en": "no more escalation levels", "zh": "升级层级已用尽"},
    "card_kind_paged": {"en": "paged after the delay", "zh": "延迟结束，已通知"},
    "card_kind_reminded": {"en": "reminded", "zh": "再次提醒"},
    "card_digest_headline": {
        "en": "{count} incidents opened here faster than cards can be posted",
        "zh": "{count} 个事件的产生速度超过了卡片的发送频率",
    },
    "card_digest_hint": {
        "en": "New ones are added to this card for the next {minutes} minutes. "
        "Act on them from their pages or with a command, e.g. `ack {number}`.",
        "zh": "接下来 {minutes} 分钟内的新事件会加入此卡片。"
        "请在事件页面或用命令处理，例如 `ack {number}`。",
    },
    "bot_digest": {
        "en": "{count} incident notices arrived faster than this bot may post; here they are:",
        "zh": "{count} 条事件通知超出了机器人的发送频率，合并如下：",
    },
    # --- Slack (adapters/slack): text commands, modals, thread replies ---
    "slack_help": {
        "en": "Commands, as `{command} …`, in a direct message to me or after @mentioning me:\n"
        "• `ack 42` — acknowledge #42\n"
        "• `close 42 [note]` — close it, with an optional note\n"
        "• `reopen 42` — reopen it\n"
        "• `comment 42 <text>` — add a comment\n"
        "• `escalate 42 [@person]` — page the next level, or one person\n"
        "• `snooze 42 30m` — quiet it for a while (minutes or hours)\n"
        "• `show 42` — the incident's card\n"
        "• `list` — open incidents\n"
        "• `who` — who is assigned to open incidents\n"
        "• `link` — how your Slack account is linked to an ackgate member\n"
        "• `help` — this list",
        "zh": "命令（用 `{command} …`、私信我或 @我）：\n"
        "• `ack 42` — 认领 #42\n"
        "• `close 42 [备注]` — 关闭，可附备注\n"
        "• `reopen 42` — 重新打开\n"
        "• `comment 42 <内容>` — 添加评论\n"
        "• `escalate 42 [@成员]` — 升级到下一层级或指定成员\n"
        "• `snooze 42 30m` — 暂缓一段时间（分钟或小时）\n"
        "• `show 42` — 查看事件卡片\n"
        "• `list` — 未关闭的事件\n"
        "• `who` — 未关闭事件的处理人\n"
        "• `link` — 你的 Slack 账号如何关联到 ackgate 成员\n"
        "• `help` — 本列表",
    },
    "slack_usage": {"en": "Usage: `{usage}`", "zh": "用法：`{usage}`"},
    "slack_unknown_command": {
        "en": "I don't know the command “{word}”.",
        "zh": "没有“{word}”这个命令。",
    },
    "slack_bad_number": {
        "en": "“{value}” is not an incident number.",
        "zh": "“{value}”不是事件编号。",
    },
    "slack_needs_number": {"en": "Which incident? Give its number.", "zh": "请给出事件编号。"},
    "slack_needs_text": {
        "en": "Write the comment after the incident number.",
        "zh": "请在事件编号后写上评论内容。",
    },
    "slack_bad_duration": {
        "en": "“{value}” is not a duration: use minutes or hours, like 30m, 2h or 1h30m.",
        "zh": "“{value}”不是时长，请写分钟或小时，如 30m、2h、1h30m。",
    },
    "slack_unexpected": {
        "en": "I did not expect “{value}” there.",
        "zh": "此处不应有“{value}”。",
    },
    "slack_wrong_workspace": {
        "en": "This Slack workspace is not connected to this ackgate gateway.",
        "zh": "此 Slack 工作区未接入本 ackgate 网关。",
    },
    "slack_bad_button": {
        "en": "This button is no longer valid. Type `help` to act by command.",
        "zh": "此按钮已失效，请输入 `help` 查看命令。",
    },
    "slack_modal_failed": {
        "en": "The form could not be opened. Try again, or type `{command} {verb} {number}`.",
        "zh": "无法打开表单。请重试，或输入 `{command} {verb} {number}`。",
    },
    "slack_target_not_linked": {
        "en": "<@{user}> is not linked to an ackgate member yet.",
        "zh": "<@{user}> 尚未关联到 ackgate 成员。",
    },
    "slack_no_open": {"en": "No open incidents.", "zh": "没有未关闭的事件。"},
    "slack_list_header": {"en": "Open incidents ({count}):", "zh": "未关闭的事件（{count} 个）："},
    "slack_list_line": {
        "en": "• {emoji} {title} — {status}{assignees}",
        "zh": "• {emoji} {title} — {status}{assignees}",
    },
    "slack_who_header": {
        "en": "Assigned to open incidents:",
        "zh": "未关闭事件的处理人：",
    },
    "slack_who_line": {"en": "• {member}: {incidents}", "zh": "• {member}：{incidents}"},
    "slack_who_oncall_header": {"en": "On call now:", "zh": "当前值班："},
    "slack_who_schedule": {"en": "• schedule {name}: {members}", "zh": "• 排班 {name}：{members}"},
    "slack_who_service": {
        "en": "• service {name}{policy}: {members}",
        "zh": "• 服务 {name}{policy}：{members}",
    },
    "slack_who_nobody_paged": {"en": "nobody", "zh": "无人"},
    "slack_who_nobody": {
        "en": "Nobody is assigned to an open incident.",
        "zh": "没有人被分派到未关闭的事件。",
    },
    "slack_link_linked": {
        "en": "Your Slack account is linked to the member {member}.",
        "zh": "你的 Slack 账号已关联到成员 {member}。",
    },
    "slack_link_done": {
        "en": "Your Slack account is now linked to the member {member}: your Slack email matched.",
        "zh": "你的 Slack 账号已按邮箱关联到成员 {member}。",
    },
    "slack_link_how": {
        "en": "Your Slack account ({user}) is not linked to an ackgate member. It links itself "
        "when your Slack email is your member's email; otherwise ask an admin to add "
        '`{{ platform = "slack", workspace = "{workspace}", user_id = "{user}" }}` '
        "to your member's identities.",
        "zh": "你的 Slack 账号（{user}）尚未关联到 ackgate 成员。若 Slack 邮箱与成员邮箱相同，"
        "会自动关联；否则请管理员把 "
        '`{{ platform = "slack", workspace = "{workspace}", user_id = "{user}" }}` '
        "加入你的成员 identities。",
    },
    "slack_modal_escalate_title": {"en": "Escalate #{number}", "zh": "升级 #{number}"},
    "slack_modal_comment_title": {"en": "Comment on #{number}", "zh": "评论 #{number}"},
    "slack_modal_cancel": {"en": "Cancel", "zh": "取消"},
    "slack_modal_escalate_hint": {
        "en": "Leave empty to page the next escalation level.",
        "zh": "留空则通知下一升级层级。",
    },
    "slack_thread_commented": {"en": "{actor} commented: {text}", "zh": "{actor} 评论：{text}"},
    "slack_thread_escalated": {"en": "Escalated to {targets}", "zh": "已升级给 {targets}"},
    "slack_thread_snooze_expired": {
        "en": "Snooze ended; paging {targets}",
        "zh": "暂缓结束，正在通知 {targets}",
    },
    "slack_thread_exhausted": {
        "en": "No more escalation levels: nobody else will be paged",
        "zh": "升级层级已用尽，不会再通知其他人",
    },
    "slack_thread_event": {"en": "{kind} ({source})", "zh": "{kind}（{source}）"},
    "slack_thread_event_by": {"en": "{kind} by {actor}", "zh": "{actor} {kind}"},
    # --- Telegram (adapters/telegram) ---
    "telegram_help": {
        "en": "Commands; in this private chat the slash is optional, in a group add my name "
        "(<code>/ack@{bot} 42</code>) if another bot is there:\n"
        "• <code>/ack 42</code> — acknowledge #42\n"
        "• <code>/close 42 [note]</code> — close it, with an optional note\n"
        "• <code>/reopen 42</code> — reopen it\n"
        "• <code>/comment 42 &lt;text&gt;</code> — add a comment\n"
        "• <code>/escalate 42 [member]</code> — page the next level, or one member\n"
        "• <code>/snooze 42 30m</code> — quiet it for a while (minutes or hours)\n"
        "• <code>/show 42</code> — the incident's card\n"
        "• <code>/list</code> — open incidents\n"
        "• <code>/who</code> — who is on call, and who holds which incident\n"
        "• <code>/link</code> — how your Telegram account is linked to an ackgate member\n"
        "• <code>/help</code> — this list",
        "zh": "命令（在私聊中可省略斜杠；群里若还有其他机器人，请加上我的名字，"
        "如 <code>/ack@{bot} 42</code>）：\n"
        "• <code>/ack 42</code> — 认领 #42\n"
        "• <code>/close 42 [备注]</code> — 关闭，可附备注\n"
        "• <code>/reopen 42</code> — 重新打开\n"
        "• <code>/comment 42 &lt;内容&gt;</code> — 添加评论\n"
        "• <code>/escalate 42 [成员]</code> — 升级到下一层级或指定成员\n"
        "• <code>/snooze 42 30m</code> — 暂缓一段时间（分钟或小时）\n"
        "• <code>/show 42</code> — 查看事件卡片\n"
        "• <code>/list</code> — 未关闭的事件\n"
        "• <code>/who</code> — 当前值班及各事件的处理人\n"
        "• <code>/link</code> — 你的 Telegram 账号如何关联到 ackgate 成员\n"
        "• <code>/help</code> — 本列表",
    },
    "telegram_usage": {"en": "Usage: <code>{usage}</code>", "zh": "用法：<code>{usage}</code>"},
    "telegram_bad_button": {
        "en": "This button is no longer valid. Send /help to act by command.",
        "zh": "此按钮已失效，请发送 /help 查看命令。",
    },
    "telegram_not_linked": {
        "en": "Your Telegram account (id {user}) is not linked to an ackgate member yet. "
        "Send /link to me in a private chat to see how to link it.",
        "zh": "你的 Telegram 账号（id {user}）尚未关联到 ackgate 成员。"
        "私聊我发送 /link 查看关联方法。",
    },
    "telegram_link_linked": {
        "en": "Your Telegram account is linked to the member {member}.",
        "zh": "你的 Telegram 账号已关联到成员 {member}。",
    },
    "telegram_link_how": {
        "en": "Your Telegram account (id <code>{user}</code>) is not linked to an ackgate member "
        "yet. Ask an admin to add it to your member in the configuration:\n"
        '<pre>[[members.NAME.identities]]\nplatform = "telegram"\nuser_id = "{user}"</pre>\n'
        "or to import it with <code>ackgate mapping import</code> "
        "(a CSV row: your email, <code>telegram</code>, <code>{user}</code>).",
        "zh": "你的 Telegram 账号（id <code>{user}</code>）尚未关联到 ackgate 成员。"
        "请管理员在配置中把它加入你的成员：\n"
        '<pre>[[members.NAME.identities]]\nplatform = "telegram"\nuser_id = "{user}"</pre>\n'
        "或用 <code>ackgate mapping import</code> 导入"
        "（CSV 一行：你的邮箱、<code>telegram</code>、<code>{user}</code>）。",
    },
    "telegram_prompt_comment": {
        "en": "{user}, reply to this message with your comment on #{number}.",
        "zh": "{user}，请回复本消息，写下对 #{number} 的评论。",
    },
    "telegram_prompt_escalate": {
        "en": "{user}, reply to this message with the member to page for #{number}, "
        "or with “next” for the next escalation level.",
        "zh": "{user}，请回复本消息，写下 #{number} 要升级给的成员，或回复“next”升级到下一层级。",
    },
    "telegram_placeholder_comment": {"en": "Comment on #{number}", "zh": "评论 #{number}"},
    "telegram_placeholder_escalate": {"en": "Member name, or next", "zh": "成员名，或 next"},
    "telegram_prompt_sent": {
        "en": "Reply to my message below.",
        "zh": "请回复下方我的消息。",
    },
    "telegram_prompt_failed": {
        "en": "I could not ask here. Send /{verb} {number} … instead.",
        "zh": "无法在此提问，请改为发送 /{verb} {number} …。",
    },
    # --- Teams (adapters/teams) ---
    "teams_help": {
        "en": "Commands, in a chat with me or after @mentioning me in a channel:\n"
        "• ack 42 — acknowledge #42\n"
        "• close 42 [note] — close it, with an optional note\n"
        "• reopen 42 — reopen it\n"
        "• comment 42 <text> — add a comment\n"
        "• escalate 42 [@person or member] — page the next level, or one person\n"
        "• snooze 42 30m — quiet it for a while (minutes or hours)\n"
        "• show 42 — the incident's card\n"
        "• list — open incidents\n"
        "• who — who is on call, and who holds which incident\n"
        "• link — how your Teams account is linked to an ackgate member\n"
        "• help — this list",
        "zh": "命令（在与我的聊天中，或在频道里 @我 后输入）：\n"
        "• ack 42 — 认领 #42\n"
        "• close 42 [备注] — 关闭，可附备注\n"
        "• reopen 42 — 重新打开\n"
        "• comment 42 <内容> — 添加评论\n"
        "• escalate 42 [@成员 或成员名] — 升级到下一层级或指定成员\n"
        "• snooze 42 30m — 暂缓一段时间（分钟或小时）\n"
        "• show 42 — 查看事件卡片\n"
        "• list — 未关闭的事件\n"
        "• who — 当前值班及各事件的处理人\n"
        "• link — 你的 Teams 账号如何关联到 ackgate 成员\n"
        "• help — 本列表",
    },
    "teams_usage": {"en": "Usage: {usage}", "zh": "用法：{usage}"},
    "teams_chat_id": {
        "en": 'To post incident cards here, use chat = "{chat}" in a notify destination '
        'of kind "teams".',
        "zh": '要把事件卡片发到这里，请在 kind 为 "teams" 的通知目标中设置 chat = "{chat}"。',
    },
    "teams_welcome": {
        "en": "Hello! I post ackgate incident cards and act on them. Send help to me for the "
        "commands.",
        "zh": "你好！我会发送 ackgate 事件卡片，并可直接处理事件。发送 help 查看命令。",
    },
    "teams_bad_button": {
        "en": "This button is no longer valid. Send help to me to act by command.",
        "zh": "此按钮已失效，请发送 help 给我查看命令。",
    },
    "teams_placeholder_comment": {"en": "Your comment", "zh": "评论内容"},
    "teams_placeholder_escalate": {
        "en": "The next level, or pick a member",
        "zh": "下一升级层级，或选择成员",
    },
    "teams_not_linked": {
        "en": "Your Teams account ({user}) is not linked to an ackgate member yet. Ask an admin "
        'to add {{ platform = "teams", user_id = "{user}" }} to your member\'s identities.',
        "zh": "你的 Teams 账号（{user}）尚未关联到 ackgate 成员。请管理员把 "
        '{{ platform = "teams", user_id = "{user}" }} 加入你的成员 identities。',
    },
    "teams_target_not_linked": {
        "en": "{name} is not linked to an ackgate member yet.",
        "zh": "{name} 尚未关联到 ackgate 成员。",
    },
    "teams_link_linked": {
        "en": "Your Teams account is linked to the member {member}.",
        "zh": "你的 Teams 账号已关联到成员 {member}。",
    },
    "teams_link_how": {
        "en": "Your Teams account ({user}) is not linked to an ackgate member yet. "
        "Ask an admin to add it to your member in the configuration:\n"
        '[[members.NAME.identities]]\nplatform = "teams"\nuser_id = "{user}"\n'
        "or to import it with ackgate mapping import (a CSV row: your email, teams, {user}).",
        "zh": "你的 Teams 账号（{user}）尚未关联到 ackgate 成员。"
        "请管理员在配置中把它加入你的成员：\n"
        '[[members.NAME.identities]]\nplatform = "teams"\nuser_id = "{user}"\n'
        "或用 ackgate mapping import 导入（CSV 一行：你的邮箱、teams、{user}）。",
    },
    # --- Lark (adapters/lark) ---
    "lark_help": {
        "en": "Commands, in a direct message to me or after @mentioning me in a group:\n"
        "• ack 42 — acknowledge #42\n"
        "• close 42 [note] — close it, with an optional note\n"
        "• reopen 42 — reopen it\n"
        "• comment 42 <text> — add a comment\n"
        "• escalate 42 [@person or member] — page the next level, or one person\n"
        "• snooze 42 30m — quiet it for a while (minutes or hours)\n"
        "• show 42 — the incident's card\n"
        "• list — open incidents\n"
        "• who — who is on call, and who holds which incident\n"
        "• link — how your {platform} account is linked to an ackgate member\n"
        "• help — this list",
        "zh": "命令（私信我，或在群里 @我 后输入）：\n"
        "• ack 42 — 认领 #42\n"
        "• close 42 [备注] — 关闭，可附备注\n"
        "• reopen 42 — 重新打开\n"
        "• comment 42 <内容> — 添加评论\n"
        "• escalate 42 [@成员 或成员名] — 升级到下一层级或指定成员\n"
        "• snooze 42 30m — 暂缓一段时间（分钟或小时）\n"
        "• show 42 — 查看事件卡片\n"
        "• list — 未关闭的事件\n"
        "• who — 当前值班及各事件的处理人\n"
        "• link — 你的{platform}账号如何关联到 ackgate 成员\n"
        "• help — 本列表",
    },
    "lark_usage": {"en": "Usage: {usage}", "zh": "用法：{usage}"},
    "lark_bad_button": {
        "en": "This button is no longer valid. Send help to me to act by command.",
        "zh": "此按钮已失效，请私信我 help 查看命令。",
    },
    "lark_placeholder_comment": {"en": "Your comment", "zh": "评论内容"},
    "lark_placeholder_escalate": {
        "en": "Member to page (empty: the next level)",
        "zh": "要通知的成员（留空则升级到下一层级）",
    },
    "lark_target_not_linked": {
        "en": "{name} is not linked to an ackgate member yet.",
        "zh": "{name} 尚未关联到 ackgate 成员。",
    },
    "lark_link_linked": {
        "en": "Your {platform} account is linked to the member {member}.",
        "zh": "你的{platform}账号已关联到成员 {member}。",
    },
    "lark_link_done": {
        "en": "Your {platform} account is now linked to the member {member}: your email matched.",
        "zh": "你的{platform}账号已按邮箱关联到成员 {member}。",
    },
    "lark_link_how": {
        "en": "Your {platform} account ({user}) is not linked to an ackgate member. It links "
        "itself when your {platform} email is your member's email; otherwise ask an admin to "
        'add {{ platform = "lark", user_id = "{user}" }} to your member\'s identities.',
        "zh": "你的{platform}账号（{user}）尚未关联到 ackgate 成员。若{platform}邮箱与成员邮箱"
        '相同，会自动关联；否则请管理员把 {{ platform = "lark", user_id = "{user}" }} '
        "加入你的成员 identities。",
    },
    "lark_text_only": {
        "en": "I only read text. Send help for the commands.",
        "zh": "我只能读取文字消息。发送 help 查看命令。",
    },
    # --- Zoom (adapters/zoom) ---
    "zoom_help": {
        "en": "Commands, after the bot's slash command in a channel or in a direct message to me:\n"
        "• ack 42 — acknowledge #42\n"
        "• close 42 [note] — close it, with an optional note\n"
        "• reopen 42 — reopen it\n"
        "• comment 42 <text> — add a comment\n"
        "• escalate 42 [member] — page the next level, or one member\n"
        "• snooze 42 30m — quiet it for a while (minutes or hours)\n"
        "• show 42 — the incident's card\n"
        "• list — open incidents\n"
        "• who — who is on call, and who holds which incident\n"
        "• link — how your Zoom account is linked to an ackgate member\n"
        "• help — this list",
        "zh": "命令（在频道里跟在机器人的斜杠命令之后输入，或私信我）：\n"
        "• ack 42 — 认领 #42\n"
        "• close 42 [备注] — 关闭，可附备注\n"
        "• reopen 42 — 重新打开\n"
        "• comment 42 <内容> — 添加评论\n"
        "• escalate 42 [成员名] — 升级到下一层级或指定成员\n"
        "• snooze 42 30m — 暂缓一段时间（分钟或小时）\n"
        "• show 42 — 查看事件卡片\n"
        "• list — 未关闭的事件\n"
        "• who — 当前值班及各事件的处理人\n"
        "• link — 你的 Zoom 账号如何关联到 ackgate 成员\n"
        "• help — 本列表",
    },
    "zoom_usage": {"en": "Usage: {usage}", "zh": "用法：{usage}"},
    "zoom_bad_button": {
        "en": "This button is no longer valid. Send help to me to act by command.",
        "zh": "此按钮已失效，请私信我 help 查看命令。",
    },
    "zoom_comment_how": {
        "en": "To comment on #{number}, send: comment {number} <your comment>",
        "zh": "要评论 #{number}，请发送：comment {number} <评论内容>",
    },
    "zoom_not_linked": {
        "en": "Your Zoom account ({user}) is not linked to an ackgate member yet. "
        "Ask an admin to add it to your member in the configuration:\n"
        '[[members.NAME.identities]]\nplatform = "zoom"\nuser_id = "{user}"\n'
        "or to import it with ackgate mapping import (a CSV row: your email, zoom, {user}).",
        "zh": "你的 Zoom 账号（{user}）尚未关联到 ackgate 成员。"
        "请管理员在配置中把它加入你的成员：\n"
        '[[members.NAME.identities]]\nplatform = "zoom"\nuser_id = "{user}"\n'
        "或用 ackgate mapping import 导入（CSV 一行：你的邮箱、zoom、{user}）。",
    },
    "zoom_link_linked": {
        "en": "Your Zoom account is linked to the member {member}.",
        "zh": "你的 Zoom 账号已关联到成员 {member}。",
    },
    # --- WeCom (adapters/wecom) ---
    "wecom_help": {
        "en": "Commands; send them to me in this chat (a slash in front is fine):\n"
        "• ack 42 — acknowledge #42\n"
        "• close 42 [note] — close it, with an optional note\n"
        "• reopen 42 — reopen it\n"
        "• comment 42 <text> — add a comment\n"
        "• escalate 42 [member] — page the next level, or one member\n"
        "• snooze 42 30m — quiet it for a while (minutes or hours)\n"
        "• show 42 — the incident's card\n"
        "• list — open incidents\n"
        "• who — who is on call, and who holds which incident\n"
        "• link — how your WeCom account is linked to an ackgate member\n"
        "• help — this list",
        "zh": "命令（在此会话中发给我，前面可加斜杠）：\n"
        "• ack 42 — 认领 #42\n"
        "• close 42 [备注] — 关闭，可附备注\n"
        "• reopen 42 — 重新打开\n"
        "• comment 42 <内容> — 添加评论\n"
        "• escalate 42 [成员] — 升级到下一层级或指定成员\n"
        "• snooze 42 30m — 暂缓一段时间（分钟或小时）\n"
        "• show 42 — 查看事件卡片\n"
        "• list — 未关闭的事件\n"
        "• who — 当前值班及各事件的处理人\n"
        "• link — 你的企业微信账号如何关联到 ackgate 成员\n"
        "• help — 本列表",
    },
    "wecom_usage": {"en": "Usage: {usage}", "zh": "用法：{usage}"},
    "wecom_button_refresh": {"en": "Refresh", "zh": "刷新"},
    "wecom_bad_button": {
        "en": "This button is no longer valid. Send help to me to act by command.",
        "zh": "此按钮已失效，请发送 help 查看命令。",
    },
    "wecom_comment_how": {
        "en": "To comment on #{number}, send me: comment {number} <your text>",
        "zh": "要评论 #{number}，请发给我：comment {number} <内容>",
    },
    "wecom_text_only": {
        "en": "I only read text. Send help for the commands.",
        "zh": "我只能读取文字消息。发送 help 查看命令。",
    },
    "wecom_link_linked": {
        "en": "Your WeCom account is linked to the member {member}.",
        "zh": "你的企业微信账号已关联到成员 {member}。",
    },
    "wecom_link_how": {
        "en": "Your WeCom account (UserID {user}) is not linked to an ackgate member yet. "
        "Ask an admin to add it to your member in the configuration:\n"
        '[[members.NAME.identities]]\nplatform = "wecom"\nuser_id = "{user}"\n'
        "or to import it with ackgate mapping import "
        "(a CSV row: your email, wecom, {user}).",
        "zh": "你的企业微信账号（UserID {user}）尚未关联到 ackgate 成员。"
        "请管理员在配置中把它加入你的成员：\n"
        '[[members.NAME.identities]]\nplatform = "wecom"\nuser_id = "{user}"\n'
        "或用 ackgate mapping import 导入（CSV 一行：你的邮箱、wecom、{user}）。",
    },
    # --- DingTalk (adapters/dingtalk) ---
    "dingtalk_help": {
        "en": "Commands, in a direct message to me or after @mentioning me in a group:\n"
        "• ack 42 — acknowledge #42\n"
        "• close 42 [note] — close it, with an optional note\n"
        "• reopen 42 — reopen it\n"
        "• comment 42 <text> — add a comment\n"
        "• escalate 42 [@person or member] — page the next level, or one person\n"
        "• snooze 42 30m — quiet it for a while (minutes or hours)\n"
        "• show 42 — the incident's card\n"
        "• list — open incidents\n"
        "• who — who is on call, and who holds which incident\n"
        "• link — how your DingTalk account is linked to an ackgate member\n"
        "• help — this list",
        "zh": "命令（私聊我，或在群里 @我 后输入）：\n"
        "• ack 42 — 认领 #42\n"
        "• close 42 [备注] — 关闭，可附备注\n"
        "• reopen 42 — 重新打开\n"
        "• comment 42 <内容> — 添加评论\n"
        "• escalate 42 [@成员 或成员名] — 升级到下一层级或指定成员\n"
        "• snooze 42 30m — 暂缓一段时间（分钟或小时）\n"
        "• show 42 — 查看事件卡片\n"
        "• list — 未关闭的事件\n"
        "• who — 当前值班及各事件的处理人\n"
        "• link — 你的钉钉账号如何关联到 ackgate 成员\n"
        "• help — 本列表",
    },
    "dingtalk_usage": {"en": "Usage: {usage}", "zh": "用法：{usage}"},
    "dingtalk_bad_button": {
        "en": "This button is no longer valid. Send help to me to act by command.",
        "zh": "此按钮已失效，请私聊我发送 help 查看命令。",
    },
    "dingtalk_comment_how": {
        "en": "To comment on #{number}, send me: comment {number} <your text>",
        "zh": "要评论 #{number}，请发给我：comment {number} <内容>",
    },
    "dingtalk_text_only": {
        "en": "I only read text. Send help for the commands.",
        "zh": "我只能读取文字消息。发送 help 查看命令。",
    },
    "dingtalk_target_not_linked": {
        "en": "{name} is not linked to an ackgate member yet.",
        "zh": "{name} 尚未关联到 ackgate 成员。",
    },
    "dingtalk_not_linked": {
        "en": "Your DingTalk account (staff id {user}) is not linked to an ackgate member yet. "
        "Ask an admin to add it to your member in the configuration:\n"
        '[[members.NAME.identities]]\nplatform = "dingtalk"\nuser_id = "{user}"\n'
        "or to import it with ackgate mapping import (a CSV row: your email, dingtalk, {user}).",
        "zh": "你的钉钉账号（staff id {user}）尚未关联到 ackgate 成员。"
        "请管理员在配置中把它加入你的成员：\n"
        '[[members.NAME.identities]]\nplatform = "dingtalk"\nuser_id = "{user}"\n'
        "或用 ackgate mapping import 导入（CSV 一行：你的邮箱、dingtalk、{user}）。",
    },
    "dingtalk_link_linked": {
        "en": "Your DingTalk account is linked to the member {member}.",
        "zh": "你的钉钉账号已关联到成员 {member}。",
    },
    "dingtalk_link_done": {
        "en": "Your DingTalk account is now linked to the member {member}: your mobile matched.",
        "zh": "你的钉钉账号已按手机号关联到成员 {member}。",
    },
    "dingtalk_link_how": {
        "en": "Your DingTalk account (staff id {user}) is not linked to an ackgate member yet. "
        "It links itself when your DingTalk mobile is your member's phone; otherwise ask an "
        "admin to add it to your member in the configuration:\n"
        '[[members.NAME.identities]]\nplatform = "dingtalk"\nuser_id = "{user}"\n'
        "or to import it with ackgate mapping import (a CSV row: your email, dingtalk, {user}).",
        "zh": "你的钉钉账号（staff id {user}）尚未关联到 ackgate 成员。若钉钉手机号与成员手机号"
        "相同，会自动关联；否则请管理员在配置中把它加入你的成员：\n"
        '[[members.NAME.identities]]\nplatform = "dingtalk"\nuser_id = "{user}"\n'
        "或用 ackgate mapping import 导入（CSV 一行：你的邮箱、dingtalk、{user}）。",
    },
    # --- email (adapters/email) ---
    "email_subject_closed": {"en": "[Closed]", "zh": "[已关闭]"},
    "email_subject_test": {"en": "[TEST]", "zh": "[测试]"},
    "email_field": {"en": "{label}: {value}", "zh": "{label}：{value}"},
    "email_open": {"en": "Open", "zh": "打开"},
    "email_labels": {"en": "Labels", "zh": "标签"},
    "email_alerts_shown": {
        "en": "{shown} of {count} shown",
        "zh": "显示 {count} 条中的 {shown} 条",
    },
    "email_test_notice": {
        "en": "This is a test notice from ackgate: nothing needs doing.",
        "zh": "这是 ackgate 发送的测试通知，无需处理。",
    },
    "email_footer": {
        "en": "Sent by ackgate. These links act as you without a login for a limited time: "
        "do not forward this email.",
        "zh": "由 ackgate 发送。这些链接在有效期内无需登录即以你的身份操作，请勿转发此邮件。",
    },
    # --- sms and voice (adapters/twilio) ---
    "sms_help": {
        "en": "Reply ACK 42 or CLOSE 42 to acknowledge or close incident 42; "
        "A or C acts on the last incident sent to you.",
        "zh": "回复 ACK 42 或 CLOSE 42 认领或关闭事件 #42；回复 A 或 C 处理最近发给你的事件。",
    },
    "sms_unknown_command": {
        "en": 'I did not understand "{text}". Reply HELP for the commands.',
        "zh": "无法识别“{text}”。回复 HELP 查看命令。",
    },
    "sms_no_recent": {
        "en": "No incident was sent to this number yet. Reply with its number, like ACK 42.",
        "zh": "尚未向此号码发送过事件。请回复事件编号，如 ACK 42。",
    },
    "sms_error": {
        "en": "Something went wrong on our side. Try again, or use the link in the message.",
        "zh": "服务出错，请重试，或使用消息中的链接。",
    },
    "voice_menu": {
        "en": "Press 1 to acknowledge, 2 to escalate, 3 to repeat.",
        "zh": "认领请按 1，升级请按 2，重听请按 3。",
    },
    "voice_bad_key": {"en": "{digits} is not an option.", "zh": "没有 {digits} 这个选项。"},
    "voice_no_key": {"en": "No key was pressed. Goodbye.", "zh": "未按任何键。再见。"},
    "voice_goodbye": {"en": "Goodbye.", "zh": "再见。"},
    "voice_not_linked": {
        "en": "This phone number is not linked to an ackgate member. Goodbye.",
        "zh": "此电话号码未关联到 ackgate 成员。再见。",
    },
    "voice_error": {
        "en": "Something went wrong on our side. Please use the link in your messages. Goodbye.",
        "zh": "服务出错，请使用消息中的链接处理。再见。",
    },
    # --- self-linking by email (gateway/selflink.py, the confirmation page) ---
    "platform_slack": {"en": "Slack", "zh": "Slack"},
    "platform_teams": {"en": "Microsoft Teams", "zh": "Microsoft Teams"},
    "platform_telegram": {"en": "Telegram", "zh": "Telegram"},
    "platform_zoom": {"en": "Zoom", "zh": "Zoom"},
    "platform_lark": {"en": "Feishu/Lark", "zh": "飞书/Lark"},
    "platform_dingtalk": {"en": "DingTalk", "zh": "钉钉"},
    "platform_wecom": {"en": "WeCom", "zh": "企业微信"},
    "link_email_sent": {
        "en": "If that address is an ackgate member's, a link to confirm is on its way there "
        "(valid {minutes} minutes, once). Open it to link this chat account.",
        "zh": "如果该地址是某位 ackgate 成员的邮箱，确认链接已发往该邮箱"
        "（{minutes} 分钟内有效，仅可使用一次）。打开它即可关联此聊天账号。",
    },
    "link_email_busy": {
        "en": "Too many link mails were asked for from this account or for this address. "
        "Try again in an hour.",
        "zh": "此账号或此邮箱请求关联邮件的次数过多，请一小时后再试。",
    },
    "link_email_off": {
        "en": "This gateway sends no email, so linking by email is off. Send link without an "
        "address for a code, or ask an admin to link your account.",
        "zh": "本网关未配置邮件，无法通过邮箱关联。"
        "发送不带邮箱的 link 获取验证码，或请管理员关联你的账号。",
    },
    "link_email_hint": {
        "en": "Or send link followed by your email: a link to confirm is mailed to you.",
        "zh": "也可以发送 link 加你的邮箱：确认链接会发到你的邮箱。",
    },
    "link_needs_email": {
        "en": "“{value}” is not an email address.",
        "zh": "“{value}”不是邮箱地址。",
    },
    "link_mail_subject": {
        "en": "Link your {platform} account to ackgate",
        "zh": "将你的 {platform} 账号关联到 ackgate",
    },
    "link_mail_body": {
        "en": "Someone using the {platform} account {account} asked to link it to your ackgate "
        "member, {member}. Once linked, that account acts as you on incidents.\n\n"
        "If that was you, open this link within {minutes} minutes and press the button:\n"
        "{url}\n\n"
        "If it was not you, ignore this mail: nothing changes unless you press the button.",
        "zh": "有人使用 {platform} 账号 {account} 请求关联到你的 ackgate 成员 {member}。"
        "关联后，该账号将以你的身份处理事件。\n\n"
        "如果是你本人，请在 {minutes} 分钟内打开以下链接并点击按钮：\n"
        "{url}\n\n"
        "如果不是你，请忽略此邮件：不点击按钮就不会有任何变化。",
    },
    "web_link_email_title": {"en": "Link a chat account", "zh": "关联聊天账号"},
    "web_link_email_ask": {
        "en": "Link the {platform} account {account} to the member {member}? It will act as "
        "{member} on incidents. Confirm only if you asked for this in chat.",
        "zh": "将 {platform} 账号 {account} 关联到成员 {member}？关联后它将以 {member} "
        "的身份处理事件。仅当这是你本人在聊天中发起的请求时才确认。",
    },
    "web_link_email_button": {"en": "Link this account", "zh": "关联此账号"},
    "web_link_email_used": {
        "en": "This link was already used, was replaced by a newer one, or has expired. "
        "Send link with your email to the bot again.",
        "zh": "此链接已被使用、已被新的链接取代或已过期。请重新向机器人发送 link 加你的邮箱。",
    },
    "web_title_gone": {"en": "Link no longer valid", "zh": "链接已失效"},
    # --- Teams: linked by roster email, Zoom: card inputs ---
    "teams_link_done": {
        "en": "Your Teams account is now linked to the member {member}: your email matched.",
        "zh": "你的 Teams 账号已按邮箱关联到成员 {member}。",
    },
}


def text(key: str, lang: Lang = "en", **values: Any) -> str:
    """The sentence ``key`` in ``lang`` (English when unknown), filled with ``values``."""
    forms = _TEXT[key]
    return forms.get(lang, forms["en"]).format(**values)


def pick_language(accept_language: str | None) -> Lang:
    """``zh`` when the browser prefers Chinese over English, else ``en``."""
    if not accept_language:
        return "en"
    best: tuple[float, Lang] = (-1.0, "en")
    for part in accept_language.split(","):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        lang = tag.strip().lower().split("-")[0]
        if lang in ("zh", "en") and weight > best[0]:
            best = (weight, lang)
    return best[1]
