"""Intents about moving money: transfer limits, foreign exchange, fees, disputed charges and fraud."""

from __future__ import annotations

from lmstack.examples.customer_service.intent import Intent

TRANSFER_INTENTS: tuple[Intent, ...] = (
    Intent(
        id="transfer_limit",
        name={"zh": "转账限额", "en": "Transfer limits"},
        questions={
            "zh": ("手机银行转账限额是多少？", "我想转{transfer_amount}，超限额了怎么办？", "怎么调高{channel}的转账额度？",
                   "一天最多能转多少钱？", "转{transfer_amount}给家人，为什么提示超额？", "跨行转账有没有额度限制？",
                   "能不能临时提高转账限额？", "{channel}转账单笔上限是多少？"),
            "en": ("What's the transfer limit in the mobile app?",
                   "I need to send {transfer_amount} but it's over my limit. What can I do?",
                   "How do I raise my transfer limit on {channel}?", "How much can I transfer in one day?",
                   "Why does it say I've exceeded the limit when I transfer {transfer_amount}?",
                   "Is there a limit on transfers to other banks?",
                   "Can I raise my transfer limit temporarily?", "What's the single-transfer cap on {channel}?"),
        },
        answer={
            "zh": "兰亭银行手机银行默认单笔转账限额5万元、单日20万元，使用U盾或数字证书后单笔最高100万元、"
                  "单日最高500万元。您可在手机银行“安全中心-限额管理”中调整，调高限额需验证身份；"
                  "大额转账也可携带身份证件到网点柜台办理。",
            "en": "By default the Lanting Bank app allows 50,000 yuan per transfer and 200,000 yuan per day; with "
                  "a USB key or digital certificate the limits rise to 1 million yuan per transfer and 5 million "
                  "yuan per day. You can change them in the app under Security > Limits after verifying your "
                  "identity, or make a large transfer at a branch counter with your ID.",
        },
        facts={
            "zh": ("为防范电信诈骗，兰亭银行新开户客户首月手机银行单日转账限额为5万元。",
                   "自{date}起，客户通过{channel}单日转账超过{transfer_amount}时需进行人脸识别验证。"),
            "en": ("To fight phone scams, new Lanting Bank customers can transfer at most 50,000 yuan a day in "
                   "the app during their first month.",
                   "From {date}, transfers of more than {transfer_amount} a day through {channel} require a "
                   "face check."),
        },
    ),
    Intent(
        id="foreign_exchange",
        name={"zh": "外汇兑换", "en": "Foreign exchange"},
        questions={
            "zh": ("我想换点{currency}，怎么办理？", "今天{currency}汇率是多少？", "手机银行能买{currency}吗？",
                   "每年购汇{currency}有额度限制吗？", "去网点换{currency}需要预约吗？", "{currency}现钞怎么兑换？",
                   "卖出{currency}换回人民币怎么操作？"),
            "en": ("I'd like to buy some {currency}. How do I do that?", "What's today's rate for {currency}?",
                   "Can I buy {currency} in the mobile app?", "Is there a yearly limit on buying {currency}?",
                   "Do I need an appointment to get {currency} cash at a branch?",
                   "How do I exchange {currency} banknotes?", "How do I sell {currency} back for yuan?"),
        },
        answer={
            "zh": "您可在兰亭银行手机银行“外汇-购汇/结汇”中办理{currency}兑换，实时汇率以页面显示为准。"
                  "境内个人每年购汇便利化额度为等值5万美元。如需{currency}现钞，请提前1个工作日通过手机银行"
                  "预约，再携带身份证件到网点领取。",
            "en": "You can exchange {currency} in the Lanting Bank app under Forex > Buy/Sell; the live rate is "
                  "shown on the page. Each resident has a yearly purchase quota equal to 50,000 US dollars. For "
                  "{currency} cash, book one working day ahead in the app and collect it at a branch with "
                  "your ID.",
        },
        facts={
            "zh": ("兰亭银行每日公布{currency}等主要币种的现汇和现钞买卖价，供客户参考。",
                   "兰亭银行手机银行支持美元、欧元、日元、英镑、港币和澳元的购汇与结汇，7×24小时可办理。"),
            "en": ("Lanting Bank publishes daily buying and selling rates for {currency} and other major "
                   "currencies.",
                   "The Lanting Bank app buys and sells US dollars, euros, yen, pounds, Hong Kong dollars and "
                   "Australian dollars around the clock."),
        },
    ),
    Intent(
        id="fees",
        name={"zh": "收费标准", "en": "Fees and charges"},
        questions={
            "zh": ("{fee_item}收费吗？", "{fee_item}要多少手续费？", "{fee_item}的收费标准是什么？",
                   "能不能免掉{fee_item}的费用？", "为什么扣了{fee_item}的钱？", "{fee_item}有优惠吗？"),
            "en": ("Do you charge for {fee_item}?", "How much is the fee for {fee_item}?",
                   "What are your charges for {fee_item}?", "Can the fee for {fee_item} be waived?",
                   "Why was I charged for {fee_item}?", "Is there any discount on {fee_item}?"),
        },
        answer={
            "zh": "关于{fee_item}的具体收费，请以兰亭银行官网和手机银行公布的《服务价目表》为准。"
                  "手机银行和网上银行转账目前免收手续费，代发工资客户和高等级会员可享受部分费用减免。"
                  "如对已扣费用有疑问，可拨打客服热线95386核实。",
            "en": "The fee for {fee_item} is set out in the Lanting Bank price list on our website and in the "
                  "app. Transfers in the app and online banking are currently free, and payroll customers and "
                  "higher membership tiers get some fees waived. If you have questions about a charge, call "
                  "95386.",
        },
        facts={
            "zh": ("兰亭银行自{date}起调整部分服务收费项目，详情请查阅最新《服务价目表》。",
                   "通过手机银行和网上银行办理人民币转账汇款，兰亭银行免收手续费。"),
            "en": ("Lanting Bank will adjust some service charges from {date}; see the latest price list.",
                   "Yuan transfers made in the app or through online banking are free of charge."),
        },
    ),
    Intent(
        id="dispute_transaction",
        name={"zh": "交易争议", "en": "Dispute a transaction"},
        questions={
            "zh": ("账单里有一笔在{merchant}的消费不是我刷的。", "被{merchant}重复扣款了怎么申请退款？",
                   "{card}有一笔交易有异议，怎么处理？", "怎么申请拒付一笔交易？", "在{merchant}退货了但钱没退回来。",
                   "交易争议多久能处理完？", "{card}莫名其妙被扣了一笔钱。"),
            "en": ("There's a charge from {merchant} on my statement that I didn't make.",
                   "I was charged twice by {merchant}. How do I get a refund?",
                   "I want to dispute a transaction on my {card}.", "How do I file a chargeback?",
                   "I returned an item to {merchant} but never got my money back.",
                   "How long does a dispute take to resolve?",
                   "There's a payment on my {card} that I don't recognise."),
        },
        answer={
            "zh": "请先联系商户核实；如无法解决，可在兰亭银行手机银行“交易明细”中选择该笔交易发起争议，"
                  "或拨打客服热线95386。我们将在2个工作日内受理，一般在45天内完成调查并告知结果，"
                  "调查期间请保留相关凭证。如怀疑卡片被盗刷，请立即冻结卡片。",
            "en": "Please contact the merchant first. If that doesn't work, open the transaction in the Lanting "
                  "Bank app under Transactions and choose Dispute, or call 95386. We accept disputes within 2 "
                  "working days and usually finish the investigation within 45 days; please keep any receipts. "
                  "If you suspect fraud, freeze your card at once.",
        },
        facts={
            "zh": ("客户对{card}交易有异议的，可自交易日起60天内通过{channel}提交争议申请。",
                   "交易争议调查期间，兰亭银行可能暂时冻结争议款项，调查结束后按结果处理。"),
            "en": ("Customers can dispute a {card} transaction through {channel} within 60 days of the "
                   "transaction date.",
                   "During an investigation the disputed amount may be put on hold."),
        },
    ),
    Intent(
        id="report_fraud",
        name={"zh": "诈骗举报", "en": "Report fraud"},
        questions={
            "zh": ("我好像被骗了，刚转了{transfer_amount}出去。", "有人冒充客服让我转账，怎么办？", "接到可疑电话说我的卡被冻结了。",
                   "怎么举报诈骗短信？", "被骗转账后还能追回吗？", "有人自称兰亭银行工作人员要我的验证码。",
                   "收到一个链接让我更新{card}信息，是真的吗？"),
            "en": ("I think I've been scammed. I just sent {transfer_amount}.",
                   "Someone pretending to be from the bank asked me to transfer money. What do I do?",
                   "I got a suspicious call saying my card was frozen.", "How do I report a scam text message?",
                   "Can I get money back after a scam transfer?",
                   "Someone claiming to be Lanting Bank staff asked for my verification code.",
                   "I received a link asking me to update my {card} details. Is it real?"),
        },
        answer={
            "zh": "兰亭银行工作人员绝不会索要您的密码或短信验证码，也不会要求您向“安全账户”转账。"
                  "如已转账，请立即拨打110报警，并拨打客服热线95386申请紧急止付，同时冻结相关卡片。"
                  "可疑短信和链接请勿点击，可通过手机银行“安全中心-举报”提交。",
            "en": "Lanting Bank staff will never ask for your password or SMS code, or ask you to move money to a "
                  "\"safe account\". If you have already transferred money, call the police on 110 at once, "
                  "then call 95386 to request an emergency stop and freeze your cards. Don't open suspicious "
                  "links; report them in the app under Security > Report.",
        },
        facts={
            "zh": ("兰亭银行{city}分行近期拦截多起冒充客服的电信诈骗，提醒市民提高警惕。",
                   "凡是要求提供短信验证码或向“安全账户”转账的，都是诈骗。"),
            "en": ("Lanting Bank {city} Branch has recently stopped several scams by callers posing as bank "
                   "staff.",
                   "Anyone who asks for your SMS code or tells you to move money to a \"safe account\" is a "
                   "scammer."),
        },
    ),
)
